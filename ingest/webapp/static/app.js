// KCS registratur: live queues (polling) and keyboard shortcuts. No build step, no CDN.
(function () {
  "use strict";
  var pollMs = parseInt(document.body.getAttribute("data-poll-ms"), 10) || 3000;

  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }

  // Live regions: re-fetch the server-rendered rows, keep focus where it was.
  document.querySelectorAll("[data-live]").forEach(function (box) {
    var url = box.getAttribute("data-live");
    function refresh() {
      if (document.hidden) { return; }
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { if (r.redirected || !r.ok) { throw new Error(String(r.status)); } return r.text(); })
        .then(function (html) {
          if (html === box.innerHTML) { return; }
          var active = document.activeElement;
          var href = active && box.contains(active) ? active.getAttribute("href") : null;
          box.innerHTML = html;
          if (href) {
            var again = box.querySelector('[href="' + href.replace(/"/g, "") + '"]');
            if (again) { again.focus(); }
          }
        })
        .catch(function () { /* signed out or offline: the next full load shows it */ });
    }
    window.setInterval(refresh, pollMs);
  });

  document.addEventListener("keydown", function (ev) {
    // Ctrl+Enter: release the letter / save the label.
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      var button = document.getElementById("slapp");
      if (button) { ev.preventDefault(); button.click(); }
      return;
    }
    // Alt+digit: switch screen.
    if (ev.altKey && !ev.ctrlKey && /^[0-9]$/.test(ev.key)) {
      var link = document.querySelector('[data-shortcut="' + ev.key + '"]');
      if (link) { ev.preventDefault(); window.location.href = link.getAttribute("href"); }
      return;
    }
    if (typing(ev.target) || ev.altKey || ev.ctrlKey || ev.metaKey) { return; }
    // j / k: next / previous item in the list; Enter follows the focused link.
    if (ev.key === "j" || ev.key === "k") {
      var items = Array.prototype.slice.call(document.querySelectorAll("[data-nav-item]"));
      if (!items.length) { return; }
      var at = items.indexOf(document.activeElement);
      var next = ev.key === "j" ? Math.min(items.length - 1, at + 1) : Math.max(0, at - 1);
      items[next].focus();
      ev.preventDefault();
    }
  });
})();
