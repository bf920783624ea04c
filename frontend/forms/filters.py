from __future__ import annotations

from django import forms

from frontend.forms.common import HubForm
from modules_registry.models import BaseModel

MODEL_SORT_CHOICES = [("newest", "Newest"), ("oldest", "Oldest"), ("name", "Name"), ("accuracy", "Best test accuracy"),
                      ("params", "Fewest parameters")]
MODULE_SORT_CHOICES = [("newest", "Newest"), ("class", "Class name"), ("f1", "Best F1"),
                       ("kept", "Fewest kernels kept"), ("-kept", "Most kernels kept"), ("params", "Fewest parameters"),
                       ("flops", "Fewest FLOPs")]


class ModelFilterForm(HubForm):
    q = forms.CharField(label="Search", required=False,
                        widget=forms.TextInput(attrs={"placeholder": "name, class, architecture, data set",
                                                      "type": "search"}))
    dataset = forms.TypedChoiceField(label="Data set", required=False, coerce=int, empty_value=None)
    architecture = forms.ChoiceField(required=False)
    fmt = forms.ChoiceField(label="Format", required=False, choices=[("", "Any")] + list(BaseModel.Format.choices))
    tag = forms.CharField(required=False, max_length=32)
    sort = forms.ChoiceField(required=False, choices=MODEL_SORT_CHOICES)

    def __init__(self, data, *, datasets, architectures):
        super().__init__(data)
        self.fields["dataset"].choices = [("", "Any")] + [(d.pk, d.name) for d in datasets]
        self.fields["architecture"].choices = [("", "Any")] + [(a, a) for a in architectures]

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class ModuleFilterForm(HubForm):
    q = forms.CharField(label="Class or model", required=False,
                        widget=forms.TextInput(attrs={"placeholder": "e.g. 7 or cat", "type": "search"}))
    model = forms.TypedChoiceField(label="Source model", required=False, coerce=int, empty_value=None)
    min_kept = forms.FloatField(label="Kept kernels ≥ (%)", required=False, min_value=0, max_value=100)
    max_kept = forms.FloatField(label="Kept kernels ≤ (%)", required=False, min_value=0, max_value=100)
    sort = forms.ChoiceField(required=False, choices=MODULE_SORT_CHOICES)

    def __init__(self, data, *, models):
        super().__init__(data)
        self.fields["model"].choices = [("", "Any")] + [(m.pk, m.name) for m in models]

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        values = {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
        for key in ("min_kept", "max_kept"):
            if key in values:
                values[key] = values[key] / 100.0
        return values
