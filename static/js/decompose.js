// Decompose form: the preset select lists the chosen method's presets (data-presets holds every method's).
(function () {
  function setup() {
    var method = document.getElementById("id_dec-method");
    var preset = document.getElementById("id_dec-preset");
    if (!method || !preset || !preset.dataset.presets) return;
    var presets = JSON.parse(preset.dataset.presets);
    method.addEventListener("change", function () {
      var keep = preset.value;
      preset.innerHTML = "";
      (presets[method.value] || []).forEach(function (choice) {
        var option = new Option(choice[1], choice[0]);
        option.selected = choice[0] === keep;
        preset.add(option);
      });
    });
  }
  document.addEventListener("DOMContentLoaded", setup);
})();
