// Site-wide htmx behaviour.
// htmx drops 4xx/5xx answers by default, leaving the old content on screen as if it were the answer. An element
// inside [data-swap-errors] swaps its view's error fragment instead; a full error page (not a fragment) becomes
// a one-line message, and a failed connection says so.
(function () {
  function message(text) {
    var p = document.createElement("p");
    p.className = "error-box";
    p.setAttribute("role", "alert");
    p.textContent = text;
    return p.outerHTML;
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    var d = event.detail;
    var source = (d.requestConfig && d.requestConfig.elt) || d.elt;  // d.elt is the target here
    if (d.xhr.status < 400 || !source || !source.closest("[data-swap-errors]")) return;
    d.shouldSwap = true;
    d.isError = false;
    if (/^\s*<!doctype|<html/i.test(d.serverResponse || "")) {
      d.serverResponse = message("The server answered " + d.xhr.status + " " + d.xhr.statusText +
                                 "; reload the page and try again.");
    }
  });
  document.addEventListener("htmx:sendError", function (event) {
    var target = event.detail.target;
    var source = (event.detail.requestConfig && event.detail.requestConfig.elt) || event.detail.elt;
    if (target && source && source.closest("[data-swap-errors]")) {
      target.innerHTML = message("The server could not be reached; check the connection and try again.");
    }
  });
  // Copy buttons: <button data-copy="ID"> copies the text of element ID.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent).then(function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy"; }, 1500);
    });
  });
})();
