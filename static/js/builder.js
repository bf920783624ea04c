// Builder: filter the class picker by name as you type, keep the chosen classes listed in order, and default the
// strategy to Fused while every chosen class comes from one model (Ensemble otherwise) until the user picks one.
(function () {
  function setup() {
    var search = document.getElementById("class-search");
    var picker = document.getElementById("picker");
    if (!search || !picker) return;
    var summary = document.getElementById("chosen");
    var strategyTouched = !!document.querySelector("#builder-form .has-error");  // a re-shown form keeps its choice
    function filter() {
      var needle = search.value.trim().toLowerCase();
      picker.querySelectorAll("fieldset").forEach(function (group) {
        var shown = 0;
        group.querySelectorAll("label.option").forEach(function (option) {
          var match = !needle || option.dataset.class.toLowerCase().indexOf(needle) !== -1;
          option.hidden = !match;
          if (match) shown += 1;
        });
        group.hidden = shown === 0;
      });
    }
    function defaultStrategy(boxes) {
      if (strategyTouched || !boxes.length) return;
      var models = {};
      boxes.forEach(function (box) { models[box.dataset.model] = true; });
      var wanted = Object.keys(models).length === 1 ? "fused" : "ensemble";
      var radio = document.querySelector("input[name=strategy][value=" + wanted + "]");
      if (radio) radio.checked = true;
    }
    function chosen() {
      var names = [];
      var boxes = Array.prototype.slice.call(picker.querySelectorAll("input[type=checkbox]:checked"));
      boxes.forEach(function (box) { names.push(box.closest("label").dataset.class); });
      summary.textContent = names.length ? names.length + " chosen: " + names.join(", ") : "No classes chosen yet.";
      defaultStrategy(boxes);
    }
    document.querySelectorAll("input[name=strategy]").forEach(function (radio) {
      radio.addEventListener("change", function () { strategyTouched = true; });
    });
    search.addEventListener("input", filter);
    picker.addEventListener("change", chosen);
    filter();
    chosen();
  }
  document.addEventListener("DOMContentLoaded", setup);
})();
