"""Inputs of the commands. They check types and shapes; the services check meaning (HubError → 4xx)."""
from __future__ import annotations

import json
import re
from dataclasses import fields

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from modules_registry import selectors
from modules_registry.models import Decomposition, Visibility
from modules_registry.services.jobs import DEVICES
from splitter_engine.data import BUILTIN_DATASETS
from splitter_engine.train_config import TrainConfig

NAME = {"max_length": 120}
SEED = {"min_value": 0, "max_value": 2**31 - 1, "default": 0}
DEVICE_HELP = f"one of {', '.join(DEVICES)}, or cuda:N"
TRAIN_OPTIONS = ", ".join(f"{f.name} (default {f.default!r})" for f in fields(TrainConfig))


class StrictCharField(serializers.CharField):
    """A JSON string: numbers and booleans are refused, not turned into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: "5" and true are refused."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.INT)
class VisibleRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference by id to an entry the caller may see; private entries of others read as 'does not exist'.

    ``form=True`` for multipart forms, where the id arrives as text.
    """

    def __init__(self, selector, form: bool = False, **kwargs):
        self.selector, self.form = selector, form
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return self.selector(getattr(request, "user", None))

    def to_internal_value(self, data):
        allowed = (int, str) if self.form else (int,)
        if isinstance(data, bool) or not isinstance(data, allowed) or not str(data).isdigit() \
                or int(data) >= 2**63:
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


class JSONTextField(serializers.CharField):
    """A JSON value sent as text (multipart forms carry only strings)."""

    def __init__(self, expect: type, **kwargs):
        self.expect = expect
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            value = json.loads(text)
        except ValueError:
            raise serializers.ValidationError("not valid JSON") from None
        if not isinstance(value, self.expect):
            raise serializers.ValidationError(f"must be a JSON {'object' if self.expect is dict else 'list'}")
        return value


class ClassNamesField(serializers.CharField):
    """Class names in output order: a JSON list, or names separated by commas."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data).strip()
        if text.startswith("["):
            try:
                names = json.loads(text)
            except ValueError:
                raise serializers.ValidationError("not a valid JSON list") from None
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise serializers.ValidationError("must be a JSON list of strings")
            return names
        return [n.strip() for n in text.split(",")]


class DatasetImportIn(serializers.Serializer):
    builtin = serializers.ChoiceField(choices=sorted(BUILTIN_DATASETS), help_text="a data set shipped with the hub")
    name = StrictCharField(required=False, **NAME, help_text="defaults to the built-in's name")
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PUBLIC)


DATASET_FORMATS = ["auto", "image-zip", "cifar10", "cifar100", "npz"]
IMAGE_SIZE = re.compile(r"^(\d{1,4})(?:x(\d{1,4}))?$")


class DatasetUploadIn(serializers.Serializer):
    archive = serializers.FileField(help_text="image folders in a .zip, a CIFAR-10/100 binary archive, or .npz")
    name = serializers.CharField(**NAME)
    format = serializers.ChoiceField(choices=DATASET_FORMATS, default="auto")
    image_size = serializers.RegexField(IMAGE_SIZE, required=False, max_length=9,
                                        help_text="resize images to HxW (e.g. 32x32) or N×N (e.g. 32)")
    channels = serializers.ChoiceField(choices=[1, 3], required=False, allow_null=True)
    seed = serializers.IntegerField(**SEED, help_text="seed of the train/val/test split")
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PUBLIC)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)

    def validate_image_size(self, value):
        height, width = IMAGE_SIZE.match(value).groups()
        size = (int(height), int(width or height))
        if not all(4 <= s <= 1024 for s in size):
            raise serializers.ValidationError("each side must be between 4 and 1024 pixels")
        return size


class ModelUploadIn(serializers.Serializer):
    weights = serializers.FileField(help_text=".safetensors (preferred), a PyTorch state_dict (.pt/.pth), "
                                              "or .onnx (stored for download only)")
    name = serializers.CharField(**NAME)
    class_names = ClassNamesField(max_length=100_000, help_text='class names in output order: JSON list or "a,b,c"')
    input_spec = JSONTextField(dict, max_length=10_000, help_text=(
        'JSON: {"channels": 1, "height": 16, "width": 16, "mean": [..], "std": [..]}; the model sees '
        "(pixel / 255 - mean[c]) / std[c]"))
    architecture = serializers.CharField(required=False, allow_blank=True, default="", max_length=80, help_text=(
        "simcnn, rescnn, incecnn or any torchvision.models classifier name (not needed for .onnx); every one is "
        "stored and evaluated, and the model's `decomposable` says whether it can be split into modules"))
    arch_kwargs = JSONTextField(dict, required=False, default=dict, max_length=10_000,
                                help_text='JSON object, e.g. {"width": 0.125}; default {}')
    dataset = VisibleRelatedField(selectors.datasets_visible_to, form=True, required=False, allow_null=True,
                                  help_text="id of the data set it was trained on")
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PUBLIC)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class TrainIn(serializers.Serializer):
    dataset = VisibleRelatedField(selectors.datasets_visible_to)
    name = StrictCharField(**NAME)
    architecture = StrictCharField(max_length=80)
    arch_kwargs = serializers.DictField(required=False, default=dict)
    config = serializers.DictField(required=False, default=dict, help_text=(
        f"training options, each optional (docs/api.md says what they do): {TRAIN_OPTIONS}; "
        'e.g. {"epochs": 2, "classes": ["0", "1"]}'))
    device = StrictCharField(default="auto", max_length=16, help_text=DEVICE_HELP)
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PUBLIC)
    description = StrictCharField(required=False, allow_blank=True, default="", max_length=5000)


class EvaluateIn(serializers.Serializer):
    dataset = VisibleRelatedField(selectors.datasets_visible_to, required=False, allow_null=True,
                                  help_text="defaults to the model's training data set")
    split = serializers.ChoiceField(choices=["train", "val", "test"], default="test")
    device = StrictCharField(default="auto", max_length=16, help_text=DEVICE_HELP)


class DecomposeIn(serializers.Serializer):
    method = serializers.ChoiceField(choices=Decomposition.Method.choices, default=Decomposition.Method.GRADSPLITTER)
    preset = StrictCharField(default="", allow_blank=True, max_length=20, help_text=(
        "the method's preset; blank = its default. gradsplitter, cnnsplitter: fast | paper; "
        "concern: sliced (channels active for at least a fraction tau of the observed inputs) | paper"))
    overrides = serializers.DictField(required=False, default=dict, help_text="config fields to change")
    seed = StrictIntegerField(**SEED)
    device = StrictCharField(default="auto", max_length=16, help_text=DEVICE_HELP)
    dataset = VisibleRelatedField(selectors.datasets_visible_to, required=False, allow_null=True,
                                  help_text="labelled data with the model's classes; defaults to its training set")


class ModelCardIn(serializers.Serializer):
    """PATCH /api/models/{id}/: the owner's words about a model; every other field of a model is fixed."""

    description = StrictCharField(required=False, allow_blank=True, trim_whitespace=False,
                                  help_text="Markdown (raw HTML is shown as text), at most 20,000 characters")
    tags = serializers.ListField(child=StrictCharField(), required=False, max_length=100,
                                 help_text="lower-case labels, e.g. [\"digits\", \"grey\"]; at most 12")

    def validate(self, attrs):
        fixed = sorted(set(self.initial_data) - set(self.fields))
        if fixed:
            raise serializers.ValidationError({name: "only description and tags can be changed" for name in fixed})
        return attrs
