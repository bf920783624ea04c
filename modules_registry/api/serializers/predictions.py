"""Input and answer of POST /api/builds/{id}/predict/."""
from __future__ import annotations

from rest_framework import serializers


class PredictIn(serializers.Serializer):
    images = serializers.ListField(
        child=serializers.FileField(), required=False, default=list, help_text="PNG or JPEG files (any size up to the pixel limit: each is "
        "converted to the build's channels, resized to its input size and normalised by its mean/std), or one .npz "
        "whose array `x` holds uint8 images (N×H×W, N×H×W×C or N×C×H×W)")
    top_k = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=1000,
                                     help_text="classes per image, most likely first (at most the build's classes; "
                                               "default 5, or all of them when the build has fewer)")


class RankedOut(serializers.Serializer):
    class_name = serializers.CharField()
    score = serializers.FloatField(help_text="softmax probability over the build's classes")


class PredictionOut(serializers.Serializer):
    name = serializers.CharField(help_text="the file's name; for an .npz, name[i]")
    ranked = RankedOut(many=True)


class PredictOut(serializers.Serializer):
    build = serializers.IntegerField()
    classes = serializers.ListField(child=serializers.CharField(), help_text="the build's classes, in output order")
    top_k = serializers.IntegerField()
    predictions = PredictionOut(many=True)
