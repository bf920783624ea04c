from __future__ import annotations

from django import forms

from frontend.forms.common import HubForm, DEVICE_CHOICES, JSONObjectField, parse_floats, split_names, visibility_field
from modules_registry.models import Decomposition


def architecture_choices(blank: str | None = None) -> list[tuple[str, str]]:
    from splitter_engine.architectures import list_architectures

    choices = [(a["name"], f"{a['name']} ({a['family']})") for a in list_architectures(everything=True)]
    return ([("", blank)] if blank else []) + choices


def dataset_choices(datasets, blank: str) -> list:
    return [("", blank)] + [(d.pk, f"{d.name} ({d.num_classes} classes)") for d in datasets]


class ModelUploadForm(HubForm):
    """Weights plus what the file cannot say: architecture, class names, input spec."""

    name = forms.CharField(max_length=120)
    weights = forms.FileField(help_text=".safetensors (preferred), a PyTorch state_dict (.pt/.pth), or .onnx "
                                        "(ONNX entries are stored for download only).")
    architecture = forms.ChoiceField(required=False, help_text="Not needed for ONNX files.")
    arch_kwargs = JSONObjectField(label="Architecture options (JSON)", required=False,
                                  help_text='For example {"width": 0.25}.')
    dataset = forms.TypedChoiceField(label="Trained on", required=False, coerce=int, empty_value=None)
    class_names = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                  help_text="In output order, one per line or comma-separated. "
                                            "Leave empty to use the data set's.")
    channels = forms.IntegerField(required=False, min_value=1, max_value=4)
    height = forms.IntegerField(required=False, min_value=1, max_value=4096)
    width = forms.IntegerField(required=False, min_value=1, max_value=4096)
    mean = forms.CharField(required=False, help_text="Per channel, comma-separated (optional).")
    std = forms.CharField(required=False, help_text="Per channel, comma-separated (optional).")
    visibility = visibility_field()
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, datasets, **kwargs):
        super().__init__(*args, **kwargs)
        self.datasets = {d.pk: d for d in datasets}
        self.fields["architecture"].choices = architecture_choices(blank="— (ONNX file)")
        self.fields["dataset"].choices = dataset_choices(datasets, "Unknown / not in the hub")

    def clean(self):
        data = super().clean()
        dataset = self.datasets.get(data.get("dataset"))
        data["dataset_row"] = dataset
        names = split_names(data.get("class_names") or "")
        if not names and dataset is not None:
            names = list(dataset.class_names)
        if not names:
            self.add_error("class_names", "give the class names in output order, or choose the data set")
        data["class_name_list"] = names
        spec = dict(dataset.input_spec) if dataset is not None else {}
        for key in ("channels", "height", "width"):
            if data.get(key):
                spec[key] = data[key]
        for key in ("mean", "std"):
            if data.get(key):
                spec[key] = parse_floats(data[key], field=key)
        missing = [k for k in ("channels", "height", "width") if not spec.get(k)]
        if missing:
            self.add_error("channels" if "channels" in missing else missing[0],
                           "give the input size (channels, height, width) or choose the data set")
        data["input_spec"] = spec
        return data


class TrainForm(HubForm):
    dataset = forms.TypedChoiceField(label="Data set", coerce=int)
    name = forms.CharField(max_length=120)
    architecture = forms.ChoiceField(initial="simcnn")
    arch_kwargs = JSONObjectField(label="Architecture options (JSON)", required=False, initial={"width": 0.25})
    epochs = forms.IntegerField(min_value=1, max_value=500, initial=5)
    batch_size = forms.IntegerField(min_value=2, max_value=4096, initial=64)
    lr = forms.FloatField(label="Learning rate", min_value=0, initial=1e-3)
    config = JSONObjectField(label="More training settings (JSON)", required=False,
                             help_text='Optional, e.g. {"optimizer": "sgd", "augmentation": "crop", '
                                       '"classes": ["0", "1"]}.')
    device = forms.ChoiceField(choices=DEVICE_CHOICES, initial="auto")
    visibility = visibility_field()
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, datasets, **kwargs):
        super().__init__(*args, **kwargs)
        self.datasets = {d.pk: d for d in datasets}
        self.fields["dataset"].choices = dataset_choices(datasets, "Choose a data set")
        self.fields["architecture"].choices = architecture_choices()

    def clean(self):
        data = super().clean()
        data["dataset_row"] = self.datasets.get(data.get("dataset"))
        if data.get("dataset") and data["dataset_row"] is None:
            self.add_error("dataset", "choose a data set you can see")
        data["train_config"] = {**(data.get("config") or {}), "epochs": data.get("epochs"),
                                "batch_size": data.get("batch_size"), "lr": data.get("lr")}
        return data


class EvaluateForm(HubForm):
    dataset = forms.TypedChoiceField(label="Data set", coerce=int, required=False, empty_value=None)
    split = forms.ChoiceField(choices=[("test", "test"), ("val", "validation"), ("train", "train")], initial="test")
    device = forms.ChoiceField(choices=DEVICE_CHOICES, initial="auto")

    def __init__(self, *args, datasets, **kwargs):
        super().__init__(*args, **kwargs)
        self.datasets = {d.pk: d for d in datasets}
        self.fields["dataset"].choices = dataset_choices(datasets, "The one it was trained on")


def method_catalogue() -> dict[str, dict]:
    """Every registered decomposition method: {name: {"label", "default", "presets"}} (the engine's registry;
    loads the engine, torch included, on first use)."""
    import inspect

    from splitter_engine.methods import get_decomposer, list_decomposers

    labels = dict(Decomposition.Method.choices)
    catalogue = {}
    for name in list_decomposers():
        decomposer = get_decomposer(name)
        catalogue[name] = {"label": labels.get(name, name), "presets": list(decomposer.config_class.preset_names()),
                           "default": inspect.signature(decomposer.make_config).parameters["preset"].default}
    return catalogue


class DecomposeForm(HubForm):
    """The method is one of the registered decomposers; the preset one of that method's presets (blank: its
    default). The preset select lists the chosen method's presets; decompose.js swaps them when the method changes."""

    method = forms.ChoiceField(initial=Decomposition.Method.GRADSPLITTER)
    preset = forms.ChoiceField(required=False,
                               help_text="GradSplitter, CNNSplitter: fast (tuned, minutes on CPU) or paper (the "
                                         "published settings). Concern identification: sliced (smaller modules, "
                                         "seconds) or paper (the paper's rule, modules of the model's size).")
    overrides = JSONObjectField(label="Config overrides (JSON)", required=False,
                                help_text='Optional, e.g. {"epochs": 10}.')
    seed = forms.IntegerField(initial=0, min_value=0)
    device = forms.ChoiceField(choices=DEVICE_CHOICES, initial="auto")

    def __init__(self, *args, **kwargs):
        import json

        super().__init__(*args, **kwargs)
        catalogue = method_catalogue()
        self.fields["method"].choices = [(name, entry["label"]) for name, entry in catalogue.items()]
        chosen = catalogue.get(self["method"].value()) or catalogue[self.fields["method"].initial]
        self.fields["preset"].choices = self.preset_choices(chosen)
        self.fields["preset"].widget.attrs["data-presets"] = json.dumps(
            {name: self.preset_choices(entry) for name, entry in catalogue.items()})
        self.fields["preset"].error_messages["invalid_choice"] = (
            f"%(value)s is not a preset of this method; choose one of {', '.join(chosen['presets'])}, or leave it "
            "blank for the default")

    @staticmethod
    def preset_choices(entry: dict) -> list[tuple[str, str]]:
        return [("", f"Default ({entry['default']})")] + [(p, p) for p in entry["presets"]]


class ModelCardForm(HubForm):
    """The owner's words about a model: a Markdown description and comma-separated tags."""

    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8}),
                                  help_text="Markdown: headings, lists, links, code, tables. Raw HTML shows as text.")
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. digits, grey, simcnn (at most 12).")
