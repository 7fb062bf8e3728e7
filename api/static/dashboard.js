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
