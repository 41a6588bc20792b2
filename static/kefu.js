/* kefu's progressive enhancement: pages work without it. With it, the notification bell follows
 * the server's event stream (GET /api/v1/events) and updates without a reload, the notifications
 * page offers a reload link when more are unread than it shows, and buttons that ask for
 * confirmation (data-confirm) ask first. Lists marked data-live re-fetch themselves when a request
 * changes (liveRegions). No inline script anywhere: the CSP forbids it. */
(function () {
  "use strict";
  /* One event stream per page, opened when something on it listens: the bell or a live region. */
  function stream() {
    if (!window.EventSource) return null;
    if (!document.getElementById("bell-count") && !document.querySelector("[data-live]")) return null;
    var es = new EventSource("/api/v1/events"), root = document.documentElement;
    /* data-stream on <html>: "open" while the stream is connected, "down" after it dropped */
    es.addEventListener("open", function () { root.setAttribute("data-stream", "open"); });
    es.addEventListener("error", function () { root.setAttribute("data-stream", "down"); });
    window.addEventListener("pagehide", function () { es.close(); });
    return es;
  }
  function bell(es) {
    var count = document.getElementById("bell-count");
    if (!count || !es) return;
    es.addEventListener("notifications", function (ev) {
      var n;
      try { n = JSON.parse(ev.data).unread; } catch (e) { return; }
      if (typeof n !== "number") return;
      count.textContent = n > 0 ? String(n) : "";
      document.dispatchEvent(new CustomEvent("kefu:notifications", { detail: { unread: n } }));
    });
  }
  /* Live regions (docs/web.md "Live updates"): elements with data-live="requests" and an id. When
   * the stream says a request changed (event `request`), the page fetches its own URL again —
   * debounced, at most one fetch in flight, one more queued if events came meanwhile — and swaps
   * each live region for the element of the same id in the answer. Ticked checkboxes and the focus
   * survive the swap where the same control is still there. A failed fetch or a lost stream shows
   * only a small "offline" hint (the region's data-offline text); the page itself stays usable. */
  function liveRegions(es) {
    var regions = document.querySelectorAll("[data-live][id]");
    if (!regions.length || !es || !window.fetch || !window.DOMParser) return;
    var timer = null, busy = false, again = false, down = false;
    var hint = document.createElement("p");
    hint.className = "live-offline";
    hint.setAttribute("role", "status");
    hint.hidden = true;
    hint.textContent = regions[0].getAttribute("data-offline") || "offline";
    regions[0].parentNode.insertBefore(hint, regions[0]);
    function offline(on) { hint.hidden = !on; }
    function key(el) { /* how a control is found again in the new region */
      if (el.id) return "#" + el.id;
      if (el.name) return el.tagName + "|" + el.name + "|" + (el.value || "");
      return null;
    }
    function find(root, k) {
      if (!k) return null;
      if (k.charAt(0) === "#") return root.querySelector("#" + CSS.escape(k.slice(1)));
      var parts = k.split("|"), els = root.querySelectorAll(parts[0] + "[name]");
      for (var i = 0; i < els.length; i++)
        if (els[i].name === parts[1] && (els[i].value || "") === parts[2]) return els[i];
      return null;
    }
    function swap(doc) { /* the number of regions swapped */
      var now = document.querySelectorAll("[data-live][id]"), swapped = 0;
      for (var i = 0; i < now.length; i++) {
        var old = now[i], fresh = doc.getElementById(old.id);
        if (!fresh || !fresh.hasAttribute("data-live")) continue;
        var ticked = [], boxes = old.querySelectorAll("input[type=checkbox]");
        for (var j = 0; j < boxes.length; j++) ticked.push([key(boxes[j]), boxes[j].checked]);
        var focusKey = old.contains(document.activeElement) ? key(document.activeElement) : null;
        var el = document.importNode(fresh, true);
        old.parentNode.replaceChild(el, old);
        for (j = 0; j < ticked.length; j++) {
          var box = find(el, ticked[j][0]);
          if (box && box.type === "checkbox") box.checked = ticked[j][1];
        }
        var f = find(el, focusKey);
        if (f && f.focus) f.focus();
        swapped++;
        document.dispatchEvent(new CustomEvent("kefu:live", { detail: { id: el.id } }));
      }
      return swapped;
    }
    function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      /* ?lang= would store the language setting again on every refresh: the page's language is
         already the person's setting by now */
      var url = new URL(window.location.href);
      url.searchParams.delete("lang");
      fetch(url.pathname + url.search, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (r) { if (!r.ok || r.redirected) throw new Error(String(r.status)); return r.text(); })
        .then(function (html) { offline(swap(new DOMParser().parseFromString(html, "text/html")) === 0); })
        .catch(function () { offline(true); })
        .then(function () { busy = false; if (again) { again = false; later(); } });
    }
    function later() {
      if (timer) return;
      timer = setTimeout(function () { timer = null; refresh(); }, 300);
    }
    es.addEventListener("request", later);
    es.addEventListener("error", function () { down = true; offline(true); });
    /* back after a drop: changes made meanwhile were not heard, so fetch once */
    es.addEventListener("open", function () { if (down) { down = false; offline(false); later(); } });
  }
  /* The notifications page (#notify-live, data-unread: the unread count it was rendered with): when
   * the stream reports more, a link to the list's first page appears in that status region. */
  function newNotifications() {
    var live = document.getElementById("notify-live");
    if (!live) return;
    var shown = parseInt(live.getAttribute("data-unread"), 10) || 0;
    document.addEventListener("kefu:notifications", function (ev) {
      var n = ev.detail && ev.detail.unread;
      if (typeof n !== "number") return;
      if (n <= shown) {
        while (live.firstChild) live.removeChild(live.firstChild);
        live.className = "";
        return;
      }
      if (live.firstChild) return;
      var url = new URL(window.location.href);
      url.searchParams.delete("after");
      var a = document.createElement("a");
      a.href = url.pathname + url.search;
      a.textContent = live.getAttribute("data-text") || "";
      live.className = "notice";
      live.appendChild(a);
    });
  }
  function confirmations() {
    document.addEventListener("submit", function (ev) {
      var f = ev.target;
      var q = f && f.getAttribute && f.getAttribute("data-confirm");
      if (q && !window.confirm(q)) ev.preventDefault();
    });
  }
  /* keyboard shortcuts (a request's page): a key outside a text box focuses the control marked
     data-shortcut="<key>" (r reply, n note, s status, a assignee, c call, t time); Esc leaves a box */
  function shortcuts() {
    document.addEventListener("keydown", function (ev) {
      var t = ev.target, tag = t && t.tagName;
      var typing = tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && t.type !== "checkbox" &&
        t.type !== "radio" && t.type !== "submit") || (t && t.isContentEditable);
      if (typing) {
        if (ev.key === "Escape" && t.blur) t.blur();
        return;
      }
      if (ev.ctrlKey || ev.metaKey || ev.altKey || !ev.key || !/^[a-z]$/i.test(ev.key)) return;
      var el = document.querySelector('[data-shortcut="' + ev.key.toLowerCase() + '"]');
      if (!el) return;
      ev.preventDefault();
      el.focus();
      if (el.scrollIntoView) el.scrollIntoView({ block: "center" });
    });
  }
  /* the page's listener first: the stream's first event may come at once */
  document.addEventListener("DOMContentLoaded", function () {
    var es = stream();
    newNotifications(); bell(es); liveRegions(es); confirmations(); shortcuts();
  });
})();
