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
  /* the page's listener first: the stream's first event may come at once */
  document.addEventListener("DOMContentLoaded", function () { newNotifications(); bell(); confirmations(); });
})();
