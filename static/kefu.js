/* kefu's progressive enhancement: pages work without it. With it, the notification bell follows
 * the server's event stream (GET /api/v1/events) and updates without a reload, and buttons that
 * ask for confirmation (data-confirm) ask first. No inline script anywhere: the CSP forbids it. */
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
  function confirmations() {
    document.addEventListener("submit", function (ev) {
      var f = ev.target;
      var q = f && f.getAttribute && f.getAttribute("data-confirm");
      if (q && !window.confirm(q)) ev.preventDefault();
    });
  }
  document.addEventListener("DOMContentLoaded", function () { bell(); confirmations(); });
})();
