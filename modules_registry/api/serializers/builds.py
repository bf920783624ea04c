"""Inputs of the build commands, and the answer: the cached build at once, or the job that makes it."""
from __future__ import annotations

from rest_framework import serializers

from drf_spectacular.utils import extend_schema_field

from modules_registry.api.serializers.commands import DEVICE_HELP, StrictCharField, StrictIntegerField
from modules_registry.api.serializers.common import RefOut, ref
from modules_registry.api.serializers.resources import BuildDetailOut, JobOut
from modules_registry.models import Visibility
from modules_registry.services.builds import ADAPT_INPUTS_HELP
from splitter_engine.composition import CALIBRATIONS, MODES, PATCH_CALIBRATIONS, STRATEGIES

ID = {"min_value": 1, "max_value": 2**63 - 1}


class _BuildOptionsIn(serializers.Serializer):
    adapt_inputs = serializers.BooleanField(default=False, help_text=f"{ADAPT_INPUTS_HELP} (unset: differing "
                                                                     "normalisations are a 400)")
    calibration_per_class = StrictIntegerField(default=50, min_value=1, max_value=10_000,
                                               help_text="labelled images per class to fit the calibration on")
    dataset = StrictIntegerField(required=False, allow_null=True, **ID,
                                 help_text="labelled data to measure and check the build on; default: the base "
                                           "models' data set")
    name = StrictCharField(required=False, allow_blank=True, default="", max_length=120)
    description = StrictCharField(required=False, allow_blank=True, default="", max_length=5000)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False, allow_null=True, default=None,
                                         help_text="default public; a build of private inputs is private")
    device = StrictCharField(default="auto", max_length=16, help_text=DEVICE_HELP)


class ComposeIn(_BuildOptionsIn):
    modules = serializers.ListField(child=StrictIntegerField(**ID), min_length=1, max_length=100,
                                    help_text="module ids, one per class, in output order")
    strategy = serializers.ChoiceField(choices=STRATEGIES, default="ensemble",
                                       help_text="ensemble: every module runs; fused: one shared trunk per base model")
    calibration = serializers.ChoiceField(choices=CALIBRATIONS, default="none",
                                          help_text="how scores of modules from different models are made comparable")
    refit = serializers.BooleanField(default=False, help_text="fused: refit the output layer on a few samples")


class PatchIn(_BuildOptionsIn):
    model = StrictIntegerField(**ID, help_text="the weak model to patch")
    module = StrictIntegerField(**ID, help_text="the strong model's module for the class to replace or add")
    mode = serializers.ChoiceField(choices=MODES, default="replace")
    calibration = serializers.ChoiceField(choices=PATCH_CALIBRATIONS, default="linear")


class EstimateIn(serializers.Serializer):
    modules = serializers.ListField(child=StrictIntegerField(**ID), min_length=1, max_length=100)
    adapt_inputs = serializers.BooleanField(default=False, help_text=ADAPT_INPUTS_HELP)


class SizeOut(serializers.Serializer):
    params = serializers.IntegerField()
    flops = serializers.IntegerField()


class EstimateOut(serializers.Serializer):
    classes = serializers.ListField(child=serializers.CharField())
    input_spec = serializers.DictField()
    ensemble = SizeOut()
    fused = SizeOut()
    base_models = serializers.ListField(child=serializers.DictField())
    calibration_recommended = serializers.BooleanField()


class RequestedOut(serializers.Serializer):
    """The request's own lineage. A cached build (or a job already making it) may have been made from other rows
    with identical content, under another name: its own ``items`` and ``base_models`` say which."""

    name = serializers.CharField(help_text="the name asked for; empty when none was given")
    modules = serializers.SerializerMethodField()
    base_models = serializers.SerializerMethodField()

    @extend_schema_field(RefOut(many=True))
    def get_modules(self, lineage):
        return [ref(m, "module-detail", self.context) for m in lineage.modules]

    @extend_schema_field(RefOut(many=True))
    def get_base_models(self, lineage):
        return [ref(b, "model-detail", self.context) for b in lineage.base_models]


class BuildRequestOut(serializers.Serializer):
    """200 with ``build`` when the same request was built before; 202 with ``job`` otherwise."""

    cached = serializers.BooleanField()
    build = BuildDetailOut(allow_null=True)
    job = JobOut(allow_null=True)
    requested = RequestedOut()
    note = serializers.CharField(help_text="where the build (or the job making it) was asked for with other modules "
                                           "of identical weights or under another name, what differs; else empty")
