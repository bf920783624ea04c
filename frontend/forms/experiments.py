from __future__ import annotations

from django import forms

from frontend.forms.common import HubForm, visibility_field
from frontend.forms.models import dataset_choices
from modules_registry.experiments.profiles import EXPERIMENTS
from modules_registry.models import Experiment

EXPERIMENT_LABELS = {
    "methods": "The three methods side by side", "patching": "Patching weak models",
    "reuse": "A new task from modules, and replace", "accuracy": "A more accurate model from modules",
    "cost": "Cost of reuse vs training"}
EXPERIMENT_CHOICES = [(name, EXPERIMENT_LABELS[name]) for name in EXPERIMENTS]


class ExperimentForm(HubForm):
    dataset = forms.TypedChoiceField(label="Data set", coerce=int)
    profile = forms.ChoiceField(choices=Experiment.Profile.choices, initial=Experiment.Profile.QUICK)
    experiments = forms.MultipleChoiceField(choices=EXPERIMENT_CHOICES, widget=forms.CheckboxSelectMultiple,
                                            initial=list(EXPERIMENTS))
    seeds = forms.IntegerField(min_value=1, max_value=10, initial=3, help_text="3 or more for a spread")
    classes = forms.IntegerField(min_value=0, initial=0, required=False,
                                 help_text="Only the data set's first N classes (0: every class)")
    name = forms.CharField(max_length=120, required=False)
    visibility = visibility_field()

    def __init__(self, *args, datasets, **kwargs):
        super().__init__(*args, **kwargs)
        self.datasets = {d.pk: d for d in datasets}
        self.fields["dataset"].choices = dataset_choices(datasets, "Choose a data set")
