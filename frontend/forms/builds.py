from __future__ import annotations

from django import forms
from django.utils.text import capfirst

from frontend.forms.common import DEVICE_CHOICES, HubForm
from modules_registry.models import Visibility
from modules_registry.services.builds import ADAPT_INPUTS_HELP

STRATEGY_CHOICES = [("ensemble", "Ensemble — every module runs; exact module behaviour"),
                    ("fused", "Fused — modules of one model share one sliced trunk; cheaper")]
CALIBRATION_CHOICES = [("none", "None (argmax of the scores)"), ("linear", "Linear layer fitted on labelled samples"),
                       ("temperature", "Per-module temperature")]
PATCH_CALIBRATION_CHOICES = CALIBRATION_CHOICES + [
    ("minmax", "Min-max (CNNSplitter): weak model's softmax, the module's score scaled by its class's validation range")]
VISIBILITY_CHOICES = [("", "Public unless an input is private")] + list(Visibility.choices)


class BuildForm(HubForm):
    """The builder: modules in output order plus the options of the composition."""

    modules = forms.TypedMultipleChoiceField(coerce=int, label="Classes",
                                             error_messages={"required": "choose at least two classes"})
    strategy = forms.ChoiceField(choices=STRATEGY_CHOICES, initial="ensemble", widget=forms.RadioSelect)
    calibration = forms.ChoiceField(choices=CALIBRATION_CHOICES, initial="none",
                                    help_text="Needed when the classes come from different models.")
    refit = forms.BooleanField(required=False, label="Refit the output layer (fused only)")
    adapt_inputs = forms.BooleanField(required=False, label="Adapt inputs when the models' normalisations differ",
                                      help_text=f"{capfirst(ADAPT_INPUTS_HELP)}.")
    dataset = forms.TypedChoiceField(label="Data set for calibration and testing", coerce=int, required=False,
                                     empty_value=None)
    name = forms.CharField(max_length=120, required=False, help_text="Defaults to the class names.")
    visibility = forms.ChoiceField(choices=VISIBILITY_CHOICES, required=False)
    device = forms.ChoiceField(choices=DEVICE_CHOICES, initial="auto")

    def __init__(self, *args, modules, datasets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["modules"].choices = [(m.pk, m.class_name) for m in modules]
        self.fields["dataset"].choices = [("", "The base models' data set")] + [(d.pk, d.name) for d in datasets]

    def ordered_modules(self) -> list[int]:
        """Module ids in the order they were ticked on the page (the output order of the classifier)."""
        return [int(v) for v in self.data.getlist("modules") if str(v).isdigit()]


class PatchForm(HubForm):
    model = forms.TypedChoiceField(label="Weak model", coerce=int)
    module = forms.TypedChoiceField(label="Stronger module", coerce=int,
                                    help_text="A module for the class to fix, from another, stronger model.")
    mode = forms.ChoiceField(choices=[("replace", "Replace the class"), ("add", "Add the class")], initial="replace")
    calibration = forms.ChoiceField(choices=PATCH_CALIBRATION_CHOICES, initial="linear",
                                    help_text="The result compares the patched model with the weak model under the "
                                              "same calibration and no module: the module's own effect, apart from "
                                              "the calibration's.")
    dataset = forms.TypedChoiceField(label="Data set", coerce=int, required=False, empty_value=None)
    name = forms.CharField(max_length=120, required=False)
    visibility = forms.ChoiceField(choices=VISIBILITY_CHOICES, required=False)
    device = forms.ChoiceField(choices=DEVICE_CHOICES, initial="auto")

    def __init__(self, *args, models, modules, datasets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", "Choose the model to fix")] + [
            (m.pk, f"{m.name} ({m.num_classes} classes)") for m in models]
        groups: dict[str, list] = {}
        for m in modules:
            groups.setdefault(m.base_model.name, []).append((m.pk, f"class {m.class_name} — F1 {m.f1 * 100:.1f} %"))
        self.fields["module"].choices = [("", "Choose a module")] + list(groups.items())
        self.fields["dataset"].choices = [("", "The models' data set")] + [(d.pk, d.name) for d in datasets]


class TryItForm(HubForm):
    # A FileField, not Django's ImageField: the checks below read the header only (size, pixel count) and must run
    # before Pillow is asked for anything else.
    image = forms.FileField(label="Image", help_text="PNG or JPEG; it is resized to the build's input size.")

    def clean_image(self):
        from frontend import inference

        image = self.cleaned_data["image"]
        try:
            inference.open_checked(image)
        except inference.TryItError as exc:
            raise forms.ValidationError(str(exc)) from None
        finally:
            image.seek(0)
        return image
