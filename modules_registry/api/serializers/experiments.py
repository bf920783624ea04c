"""POST /api/experiments/ and the experiment reports."""
from __future__ import annotations

from rest_framework import serializers

from modules_registry import selectors
from modules_registry.api.serializers.commands import StrictCharField, StrictIntegerField, VisibleRelatedField
from modules_registry.api.serializers.common import ArtifactOut, RefField
from modules_registry.experiments.profiles import EXPERIMENTS
from modules_registry.models import Experiment, Visibility


class ExperimentIn(serializers.Serializer):
    dataset = VisibleRelatedField(selectors.datasets_visible_to, help_text="labelled data with a validation split")
    profile = serializers.ChoiceField(choices=Experiment.Profile.choices, default="quick",
                                      help_text="quick: small models on a CPU; paper: the papers' settings, GPU")
    experiments = serializers.ListField(child=serializers.ChoiceField(choices=EXPERIMENTS), required=False,
                                       help_text=f"a subset of {', '.join(EXPERIMENTS)}; default all")
    seeds = StrictIntegerField(min_value=1, max_value=10, default=3, help_text="seeds 1..N (3 or more for a spread)")
    classes = StrictIntegerField(min_value=0, default=0, help_text="only the data set's first N classes (0: all)")
    name = StrictCharField(required=False, allow_blank=True, max_length=120, default="")
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False, allow_null=True, default=None)
    device = StrictCharField(required=False, allow_blank=True, max_length=16, default="",
                             help_text="auto, cpu or cuda; default the profile's")


class ExperimentOut(ArtifactOut):
    url = serializers.HyperlinkedIdentityField(view_name="api:experiment-detail")
    dataset = RefField("dataset", "dataset-detail")
    claims = serializers.JSONField(source="report.claims", read_only=True,
                                   help_text="per claim: the paper's number, ours (mean, std, min, max, n), verdict")

    class Meta:
        model = Experiment
        fields = (*ArtifactOut.ARTIFACT_FIELDS, "name", "profile", "dataset", "seeds", "experiments", "seconds",
                  "claims")


class ExperimentDetailOut(ExperimentOut):
    report = serializers.JSONField(read_only=True, help_text="claims and per-seed figures with the rows they came "
                                                             "from ({kind, id, label})")

    class Meta(ExperimentOut.Meta):
        fields = (*ExperimentOut.Meta.fields, "settings", "report")
