// Live updates for the console: the server says "a job changed" over server-sent events, and
// the page re-fetches its own #live region from the URL in data-live. No state lives here, so
// a missed event costs at most one stale screen until the next one.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.EventSource) return;
  var url = live.getAttribute("data-live");
  var job = live.getAttribute("data-job");
  var timer = null, pending = false;

  // Never replace a form the dispatcher is typing into; refresh once they leave it.
  function busy() {
    var a = document.activeElement;
    return a && live.contains(a) && /^(INPUT|SELECT|TEXTAREA)$/.test(a.tagName) && a.type !== "submit";
  }

  function refresh() {
    timer = null;
    if (busy()) { pending = true; return; }
    pending = false;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (res) {
        // An expired session answers with the login page: show it for real.
        if (res.redirected || !res.ok) { if (res.redirected) window.location.reload(); return null; }
        return res.text();
      })
      .then(function (html) {
        if (html === null || html === undefined) return;
        live.innerHTML = html;
        live.setAttribute("data-refreshed", String(Date.now()));
        document.dispatchEvent(new CustomEvent("console:refreshed"));
      })
      .catch(function () { pending = true; });
  }

  function schedule() { if (!timer) timer = setTimeout(refresh, 150); }

  live.addEventListener("focusout", function () { if (pending) schedule(); });

  var source = new EventSource("/console/events");
  source.addEventListener("change", function (e) {
    if (!job || e.data === job || e.data === "*") schedule();
  });
  // After a reconnect, changes may have been missed: catch up once.
  var opened = false;
  source.addEventListener("open", function () { if (opened) schedule(); opened = true; });
  window.fieldcoreConsole = { refresh: refresh, source: source };
})();
