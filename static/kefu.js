/* kefu's progressive enhancement: pages work without it. With it, the notification bell follows
 * the server's event stream (GET /api/v1/events) and updates without a reload, the notifications
 * page offers a reload link when more are unread than it shows, and buttons that ask for
 * confirmation (data-confirm) ask first. No inline script anywhere: the CSP forbids it. */
(function () {
  "use strict";
  function bell() {
    var count = document.getElementById("bell-count");
    if (!count || !window.EventSource) return;
    var es = new EventSource("/api/v1/events");
    es.addEventListener("notifications", function (ev) {
      var n;
      try { n = JSON.parse(ev.data).unread; } catch (e) { return; }
      if (typeof n !== "number") return;
      count.textContent = n > 0 ? String(n) : "";
      document.dispatchEvent(new CustomEvent("kefu:notifications", { detail: { unread: n } }));
    });
    window.addEventListener("pagehide", function () { es.close(); });
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
    newNotifications(); bell(); confirmations(); shortcuts();
  });
})();
