"""Output serializers of the six resources: lists show a summary, details add lineage and files."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.reverse import reverse

from modules_registry import lanes
from modules_registry.api.serializers.common import ArtifactOut, FileField, RefField, RefOut, ref
from modules_registry.models import BaseModel, Build, Dataset, Decomposition, Evaluation, Job, Module

A = ArtifactOut.ARTIFACT_FIELDS
INPUT_SPEC_HELP = ("what the network takes: channels, height, width, and per channel mean and std; pixels are "
                   "divided by 255 first, so the input is (pixel / 255 - mean[c]) / std[c]")
COMPOSED_ACCURACY_HELP = (
    "accuracy on the test split of the argmax over all N modules' scores, each module run on its own: what an "
    "`ensemble` build of every class (calibration none) scores. A `fused` build shares one trunk (the union of "
    "the kept channels) and scores differently")


# --- data sets -----------------------------------------------------------------------------------

class DatasetOut(ArtifactOut):
    url = serializers.HyperlinkedIdentityField(view_name="api:dataset-detail")
    num_classes = serializers.IntegerField(read_only=True)
    input_spec = serializers.JSONField(read_only=True, help_text=INPUT_SPEC_HELP)
    arrays = FileField("arrays", "dataset-arrays", help_text="images, labels and splits as a pickle-free .npz")

    class Meta:
        model = Dataset
        fields = (*A, "name", "description", "source", "class_names", "num_classes", "input_spec",
                  "class_counts", "split_seed", "arrays")


# --- models --------------------------------------------------------------------------------------

class ModelOut(ArtifactOut):
    url = serializers.HyperlinkedIdentityField(view_name="api:model-detail")
    num_classes = serializers.IntegerField(read_only=True)
    input_spec = serializers.JSONField(read_only=True, help_text=INPUT_SPEC_HELP)
    decomposable = serializers.BooleanField(read_only=True, help_text=(
        "whether it can be split into per-class modules: PyTorch weights whose channels the analysis groups"))
    not_decomposable_reason = serializers.CharField(read_only=True, help_text=(
        "why not, naming the offending layer (e.g. a grouped convolution, a channel shuffle, LayerNorm) or "
        "saying it is an ONNX file; empty when decomposable"))
    dataset = RefField("dataset", "dataset-detail", help_text="the data set it was trained on")
    weights = FileField("weights", "model-weights")

    class Meta:
        model = BaseModel
        fields = (*A, "name", "description", "tags", "format", "architecture", "arch_kwargs", "class_names",
                  "num_classes", "input_spec", "dataset", "params", "flops", "decomposable", "not_decomposable_reason",
                  "weights")


class EvaluationOut(serializers.ModelSerializer):
    dataset = RefField("dataset", "dataset-detail")

    class Meta:
        model = Evaluation
        fields = ("id", "dataset", "split", "accuracy", "metrics", "created_at")


class DecompositionRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    method = serializers.CharField()
    url = serializers.URLField()


class ModelDetailOut(ModelOut):
    evaluations = serializers.SerializerMethodField()
    decompositions = serializers.SerializerMethodField()

    class Meta(ModelOut.Meta):
        fields = (*ModelOut.Meta.fields, "train_config", "train_history", "evaluations", "decompositions")

    @extend_schema_field(EvaluationOut(many=True))
    def get_evaluations(self, row):
        return EvaluationOut(getattr(row, "visible_evaluations", []), many=True, context=self.context).data

    @extend_schema_field(DecompositionRefOut(many=True))
    def get_decompositions(self, row):
        request = self.context.get("request")
        return [{"id": d.pk, "method": d.method,
                 "url": reverse("api:decomposition-detail", kwargs={"pk": d.pk}, request=request)}
                for d in getattr(row, "visible_decompositions", [])]


# --- decompositions ------------------------------------------------------------------------------

class DecompositionOut(ArtifactOut):
    url = serializers.HyperlinkedIdentityField(view_name="api:decomposition-detail")
    base_model = RefField("base_model", "model-detail")
    dataset = RefField("dataset", "dataset-detail")
    composed_accuracy = serializers.FloatField(read_only=True, help_text=COMPOSED_ACCURACY_HELP)
    result = FileField("result", "decomposition-result", help_text="masks and heads (safetensors)")

    class Meta:
        model = Decomposition
        fields = (*A, "base_model", "dataset", "method", "preset", "seed", "device", "composed_accuracy",
                  "base_accuracy", "mean_kernel_retention", "selected_epoch", "result")


class ModuleRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    class_index = serializers.IntegerField()
    class_name = serializers.CharField()
    url = serializers.URLField()


class DecompositionDetailOut(DecompositionOut):
    modules = serializers.SerializerMethodField()

    class Meta(DecompositionOut.Meta):
        fields = (*DecompositionOut.Meta.fields, "config", "history", "metrics", "result_spec", "modules")

    @extend_schema_field(ModuleRefOut(many=True))
    def get_modules(self, row):
        request = self.context.get("request")
        return [{"id": m.pk, "class_index": m.class_index, "class_name": m.class_name,
                 "url": reverse("api:module-detail", kwargs={"pk": m.pk}, request=request)}
                for m in getattr(row, "visible_modules", [])]


# --- modules -------------------------------------------------------------------------------------

class ModuleOut(ArtifactOut):
    url = serializers.HyperlinkedIdentityField(view_name="api:module-detail")
    base_model = RefField("base_model", "model-detail")
    decomposition = RefField("decomposition", "decomposition-detail")
    dataset = serializers.SerializerMethodField()
    architecture = serializers.CharField(source="base_model.architecture", read_only=True)
    method = serializers.CharField(source="decomposition.method", read_only=True)
    kept_fraction = serializers.FloatField(read_only=True)
    scoring = serializers.ChoiceField(Module.Scoring.choices, read_only=True, help_text=(
        "how the module scores its class: 'head' (GradSplitter: sigmoid of a small head over the sliced model's "
        "logits), 'logit' (CNNSplitter: the raw class logit), 'class_vs_rest' (concern identification: the softmax "
        "probability of the class against one 'rest' output)"))
    spec = FileField("spec", "module-spec", help_text="JSON: architecture, kept channels per group, scoring kind")
    weights = FileField("weights", "module-weights", help_text="the sliced weights (safetensors)")

    class Meta:
        model = Module
        fields = (*A, "class_index", "class_name", "base_model", "decomposition", "dataset", "architecture",
                  "method", "scoring", "kept_kernels", "total_kernels", "kept_fraction", "params", "flops",
                  "params_fraction", "flops_fraction", "precision", "recall", "f1", "spec", "weights")

    @extend_schema_field(RefOut(allow_null=True))
    def get_dataset(self, row):
        return ref(row.decomposition.dataset, "dataset-detail", self.context)


# --- builds --------------------------------------------------------------------------------------

class BuildItemOut(serializers.Serializer):
    position = serializers.IntegerField()
    class_name = serializers.CharField()
    module = serializers.SerializerMethodField()

    @extend_schema_field(RefOut(allow_null=True))
    def get_module(self, item):
        return ref(item.module, "module-detail", self.context)


class BuildOut(ArtifactOut):
    url = serializers.HyperlinkedIdentityField(view_name="api:build-detail")
    input_spec = serializers.JSONField(read_only=True, help_text=INPUT_SPEC_HELP)
    onnx = FileField("onnx", "build-onnx", help_text="the classifier as one ONNX file")

    class Meta:
        model = Build
        fields = (*A, "name", "description", "kind", "strategy", "calibration", "class_names", "input_spec",
                  "parity_max_abs_diff", "onnx")


class BuildDetailOut(BuildOut):
    items = BuildItemOut(many=True, read_only=True)
    base_models = serializers.SerializerMethodField()

    class Meta(BuildOut.Meta):
        fields = (*BuildOut.Meta.fields, "options", "metrics", "items", "base_models")

    @extend_schema_field(RefOut(many=True))
    def get_base_models(self, row):
        refs = (ref(m, "model-detail", self.context) for m in row.base_models.all())
        return [r for r in refs if r is not None]


# --- jobs ----------------------------------------------------------------------------------------

RESULT_ROUTES = {"dataset": "dataset-detail", "model": "model-detail", "decomposition": "decomposition-detail",
                 "build": "build-detail", "module": "module-detail"}


class JobOut(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:job-detail")
    owner = serializers.CharField(source="owner.username", read_only=True)
    is_terminal = serializers.BooleanField(read_only=True)
    result_urls = serializers.SerializerMethodField(help_text="links to the entries the job created")
    queue_position = serializers.SerializerMethodField(
        help_text="while queued: 1 if a worker of its lane (`queue_name`) takes it next, 2 after that one, ...")
    eta_seconds = serializers.SerializerMethodField(
        help_text="while running: seconds left at its rate so far, elapsed x (1 - progress) / progress; null "
                  "before 2 % progress")

    class Meta:
        model = Job
        fields = ("id", "url", "kind", "owner", "status", "is_terminal", "progress", "stage", "message", "error",
                  "device", "queue_name", "queue_position", "eta_seconds", "cancel_requested", "params", "metrics",
                  "result", "result_urls", "created_at", "started_at", "finished_at", "heartbeat_at")

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_queue_position(self, job):
        return lanes.queue_position(job)

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_eta_seconds(self, job):
        return lanes.eta_seconds(job)

    @extend_schema_field(serializers.DictField(child=serializers.URLField()))
    def get_result_urls(self, job):
        request = self.context.get("request")
        return {key: reverse(f"api:{RESULT_ROUTES[key]}", kwargs={"pk": value}, request=request)
                for key, value in (job.result or {}).items()
                if key in RESULT_ROUTES and isinstance(value, int) and not isinstance(value, bool)}


class JobDetailOut(JobOut):
    class Meta(JobOut.Meta):
        fields = (*JobOut.Meta.fields, "log")
