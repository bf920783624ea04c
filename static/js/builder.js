// Builder: filter the class picker by name as you type, and keep the chosen classes listed in order.
(function () {
  function setup() {
    var search = document.getElementById("class-search");
    var picker = document.getElementById("picker");
    if (!search || !picker) return;
    var summary = document.getElementById("chosen");
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
    function chosen() {
      var names = [];
      picker.querySelectorAll("input[type=checkbox]:checked").forEach(function (box) {
        names.push(box.closest("label").dataset.class);
      });
      summary.textContent = names.length ? names.length + " chosen: " + names.join(", ") : "No classes chosen yet.";
    }
    search.addEventListener("input", filter);
    picker.addEventListener("change", chosen);
    filter();
    chosen();
  }
  document.addEventListener("DOMContentLoaded", setup);
})();
