"""Query filters of the list endpoints (django-filter); bad values are 400s, never 500s."""
from __future__ import annotations

import json

from django import forms
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django_filters import rest_framework as filters

from modules_registry import selectors
from modules_registry.models import BaseModel, Build, Dataset, Decomposition, Job, Module, Visibility

MAX_ID = 2**63 - 1


class IdFilter(filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class IntFilter(filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 2**62)
        super().__init__(*args, **kwargs)


class FractionFilter(filters.NumberFilter):
    field_class = forms.FloatField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0.0)
        kwargs.setdefault("max_value", 1.0)
        super().__init__(*args, **kwargs)


def _has_class(queryset, name, value):
    """Entries whose JSON list of class names holds ``value`` (case-insensitive, whole name)."""
    needle = json.dumps(value)
    return queryset.annotate(_class_names_text=Cast("class_names", TextField())).filter(
        _class_names_text__icontains=needle)


class OwnedFilter(filters.FilterSet):
    owner = filters.CharFilter(field_name="owner__username", max_length=150, help_text="owner's username")
    visibility = filters.ChoiceFilter(choices=Visibility.choices)


class DatasetFilter(OwnedFilter):
    class_name = filters.CharFilter(method=_has_class, max_length=120, help_text="has a class of this name")
    source = filters.ChoiceFilter(choices=Dataset.Source.choices)

    class Meta:
        model = Dataset
        fields = ["owner", "visibility", "class_name", "source"]


def _decomposable(queryset, name, value):
    """Models that can (true) or cannot (false) be split into modules: ``BaseModel.decomposable`` as a query."""
    decomposable = Q(format=BaseModel.Format.SAFETENSORS, channel_analysis_error="")
    return queryset.filter(decomposable) if value == "true" else queryset.exclude(decomposable)


class ModelFilter(OwnedFilter):
    class_name = filters.CharFilter(method=_has_class, max_length=120, help_text="has a class of this name")
    architecture = filters.CharFilter(max_length=80)
    file_format = filters.ChoiceFilter(field_name="format", choices=BaseModel.Format.choices,
                                       help_text="the weights' file format")
    format = filters.ChoiceFilter(choices=BaseModel.Format.choices, help_text="the same as file_format")
    dataset = IdFilter(field_name="dataset_id", help_text="id of the data set it was trained on")
    decomposable = filters.ChoiceFilter(choices=[("true", "true"), ("false", "false")], method=_decomposable,
                                        help_text="can be split into per-class modules")
    tag = filters.CharFilter(method=lambda qs, name, value: selectors.tagged(qs, value), max_length=32, help_text="carries this tag")

    class Meta:
        model = BaseModel
        fields = ["owner", "visibility", "class_name", "architecture", "file_format", "format", "dataset",
                  "decomposable", "tag"]


class DecompositionFilter(OwnedFilter):
    method = filters.ChoiceFilter(choices=Decomposition.Method.choices)
    base_model = IdFilter(field_name="base_model_id")
    dataset = IdFilter(field_name="dataset_id")
    architecture = filters.CharFilter(field_name="base_model__architecture", max_length=80)
    retention_min = FractionFilter(field_name="mean_kernel_retention", lookup_expr="gte")
    retention_max = FractionFilter(field_name="mean_kernel_retention", lookup_expr="lte")

    class Meta:
        model = Decomposition
        fields = ["owner", "visibility", "method", "base_model", "dataset", "architecture"]


class ModuleFilter(OwnedFilter):
    class_name = filters.CharFilter(lookup_expr="iexact", max_length=120, help_text="the module's class")
    dataset = IdFilter(field_name="decomposition__dataset_id", help_text="id of the data set it was split on")
    architecture = filters.CharFilter(field_name="base_model__architecture", max_length=80)
    method = filters.ChoiceFilter(field_name="decomposition__method", choices=Decomposition.Method.choices)
    base_model = IdFilter(field_name="base_model_id")
    decomposition = IdFilter(field_name="decomposition_id")
    kept_kernels_min = IntFilter(field_name="kept_kernels", lookup_expr="gte", help_text="at least this many kernels kept")
    kept_kernels_max = IntFilter(field_name="kept_kernels", lookup_expr="lte", help_text="at most this many kernels kept")
    f1_min = FractionFilter(field_name="f1", lookup_expr="gte")

    class Meta:
        model = Module
        fields = ["owner", "visibility", "class_name", "dataset", "architecture", "method", "base_model",
                  "decomposition"]


class BuildFilter(OwnedFilter):
    kind = filters.ChoiceFilter(choices=Build.Kind.choices)
    strategy = filters.ChoiceFilter(choices=Build.Strategy.choices)
    class_name = filters.CharFilter(method=_has_class, max_length=120, help_text="outputs a class of this name")
    base_model = IdFilter(field_name="base_models", distinct=True)
    module = IdFilter(field_name="items__module_id", distinct=True)

    class Meta:
        model = Build
        fields = ["owner", "visibility", "kind", "strategy", "class_name", "base_model", "module"]


class JobFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Job.Status.choices)
    kind = filters.ChoiceFilter(choices=Job.Kind.choices)

    class Meta:
        model = Job
        fields = ["status", "kind"]
