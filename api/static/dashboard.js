// Mahavishnu dashboard script (served from /static, so a strict CSP allows it; the pages
// carry no inline script). The pages work without it.

// Remembers "your name" across the action forms (localStorage only; nothing is sent anywhere).
function rememberName(root) {
  var key = "mahavishnu.name";
  var saved = "";
  try { saved = window.localStorage.getItem(key) || ""; } catch (e) { return; }
  root.querySelectorAll("input.your-name").forEach(function (input) {
    if (!input.value) { input.value = saved; }
    input.form.addEventListener("submit", function () {
      try { window.localStorage.setItem(key, input.value.trim()); } catch (e) { /* private mode */ }
    });
  });
}

// Live updates: a Server-Sent Events stream says when incidents change; the page is then
// fetched again at the same URL (so the filters hold) and its <main> swapped in place,
// keeping the scroll position, the element with focus and open <details>. While the user
// types in a form field, the swap waits until the field loses focus.
function startLive() {
  var source = document.getElementById("live-source");
  if (!source || !window.EventSource || !window.fetch || !window.DOMParser) { return; }
  var status = document.getElementById("live");
  var pending = false, busy = false;

  function typing() {
    var a = document.activeElement;
    return a && (a.tagName === "TEXTAREA" || (a.tagName === "INPUT" && a.type !== "submit" && a.type !== "hidden") || a.tagName === "SELECT")
      && a.closest("main") && a.value !== "";
  }

  function swap() {
    if (busy) { pending = true; return; }
    if (typing()) { pending = true; document.activeElement.addEventListener("blur", later, { once: true }); return; }
    busy = true; pending = false;
    fetch(window.location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main"), main = document.querySelector("main");
        if (!fresh || !main) { return; }
        var x = window.scrollX, y = window.scrollY;
        var focusID = document.activeElement && document.activeElement.id;
        var open = [];
        main.querySelectorAll("details[open]").forEach(function (d) { var f = d.closest("[id]"); if (f) { open.push(f.id); } });
        main.innerHTML = fresh.innerHTML;
        open.forEach(function (id) { var f = document.getElementById(id); if (f) { var d = f.querySelector("details"); if (d) { d.open = true; } } });
        rememberName(main);
        if (focusID) { var el = document.getElementById(focusID); if (el) { el.focus({ preventScroll: true }); } }
        window.scrollTo(x, y);
        document.body.setAttribute("data-live-updated", String(Date.now()));
        if (status) { status.textContent = "live · updated " + new Date().toLocaleTimeString(); }
      })
      .catch(function () { if (status) { status.textContent = "live · update failed, retrying"; } })
      .then(function () { busy = false; if (pending) { swap(); } });
  }
  function later() { window.setTimeout(swap, 0); }

  var es = new EventSource(source.getAttribute("data-live"));
  es.addEventListener("open", function () { liveOpen = true; if (status) { status.className = "live on"; status.textContent = "live"; } });
  es.addEventListener("change", swap);
  es.addEventListener("error", function () { liveOpen = false; if (status) { status.className = "live"; status.textContent = "live · reconnecting"; } });
}

// The stream starts a few seconds after the page: nothing is lost in between (the server
// compares the page's change stamp at once), and a page left at once never opens it.
var liveDelayMs = 4000;

// liveOpen: the live stream is connected, so the auto-refresh below need not reload.
var liveOpen = false;

document.addEventListener("DOMContentLoaded", function () {
  rememberName(document);
  window.setTimeout(startLive, liveDelayMs);
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
      if (liveOpen || busy()) { return; }
      try {
        window.sessionStorage.setItem(scrollKey, JSON.stringify({ page: here, x: window.scrollX, y: window.scrollY }));
      } catch (e) { /* reload anyway */ }
      location.reload();
    }, seconds * 1000);
  });
})();
