// Remembers "your name" across the action forms (localStorage only; nothing is sent anywhere).
document.addEventListener("DOMContentLoaded", function () {
  var key = "mahavishnu.name";
  var saved = "";
  try { saved = window.localStorage.getItem(key) || ""; } catch (e) { return; }
  document.querySelectorAll("input.your-name").forEach(function (input) {
    if (!input.value) { input.value = saved; }
    input.form.addEventListener("submit", function () {
      try { window.localStorage.setItem(key, input.value.trim()); } catch (e) { /* private mode */ }
    });
  });
});

// Auto-refresh (incident_response.dashboard.refresh_interval_seconds, on <body data-refresh>):
// reloads the page, which keeps its filters (they are in the URL), and puts the scroll position
// back. A page where a form field has focus or was typed into is not reloaded until the field
// is left alone for a whole interval, so nothing being written is lost.
(function () {
  var scrollKey = "mahavishnu.scroll";
  document.addEventListener("DOMContentLoaded", function () {
    var here = location.pathname + location.search;
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(scrollKey) || "null");
      window.sessionStorage.removeItem(scrollKey);
      if (saved && saved.page === here) { window.scrollTo(saved.x, saved.y); }
    } catch (e) { /* storage unavailable: no scroll restore */ }

    var seconds = parseInt(document.body.getAttribute("data-refresh") || "0", 10);
    if (!(seconds > 0)) { return; }
    var lastInput = 0;
    document.addEventListener("input", function () { lastInput = Date.now(); });
    var busy = function () {
      var el = document.activeElement;
      var editing = el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT");
      return editing || Date.now() - lastInput < seconds * 1000;
    };
    window.setInterval(function () {
      if (busy()) { return; }
      try {
        window.sessionStorage.setItem(scrollKey, JSON.stringify({ page: here, x: window.scrollX, y: window.scrollY }));
      } catch (e) { /* reload anyway */ }
      location.reload();
    }, seconds * 1000);
  });
})();
