"""The registry's artefacts: data sets, base models, evaluations, decompositions, modules, builds."""
from __future__ import annotations

from django.db import models

from modules_registry.models.base import Artifact
from modules_registry.models.blob import Blob


class Dataset(Artifact):
    class Source(models.TextChoices):
        BUILTIN = "builtin", "Built-in"
        IMAGE_ZIP = "zip", "Image folders (.zip)"
        CIFAR = "cifar", "CIFAR binary archive"
        NPZ = "npz", "NumPy .npz arrays"

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    class_names = models.JSONField(help_text="class names in label order")
    input_spec = models.JSONField(help_text="channels, height, width, mean, std")
    class_counts = models.JSONField(help_text="per split: images per class, in label order")
    split_seed = models.IntegerField(default=0)
    archive = models.ForeignKey(Blob, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                help_text="the file as uploaded")
    arrays = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+",
                               help_text="images, labels and split indices as a pickle-free .npz")

    class Meta(Artifact.Meta):
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="dataset_name_unique_per_owner"),
            models.CheckConstraint(condition=~models.Q(name=""), name="dataset_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


class BaseModel(Artifact):
    class Format(models.TextChoices):
        SAFETENSORS = "safetensors", "PyTorch weights (safetensors)"
        ONNX = "onnx", "ONNX (registry only)"

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    format = models.CharField(max_length=16, choices=Format.choices, default=Format.SAFETENSORS)
    architecture = models.CharField(max_length=80, blank=True, help_text="engine architecture registry name")
    arch_kwargs = models.JSONField(default=dict, blank=True)
    class_names = models.JSONField(help_text="class names in output order")
    input_spec = models.JSONField()
    weights = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+")
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="models", help_text="the data set it was trained on, if known")
    train_config = models.JSONField(null=True, blank=True)
    train_history = models.JSONField(null=True, blank=True)
    params = models.BigIntegerField(null=True, blank=True)
    flops = models.BigIntegerField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True, help_text="lower-case labels chosen by the owner")
    channel_analysis_error = models.TextField(
        blank=True, help_text="why the channel analysis refused the network, naming the layer; empty when its "
                              "channels group (checked when the weights were stored)")

    MUTABLE_FIELDS = (*Artifact.MUTABLE_FIELDS, "tags")
    ONNX_NOT_DECOMPOSABLE = ("an ONNX file, stored for download only; upload PyTorch weights (.safetensors) to "
                             "evaluate or decompose it")

    class Meta(Artifact.Meta):
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="basemodel_name_unique_per_owner"),
            models.CheckConstraint(
                condition=models.Q(format="onnx") | ~models.Q(architecture=""),
                name="basemodel_weights_need_architecture"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def runnable(self) -> bool:
        """PyTorch weights: the hub can evaluate it and patch it."""
        return self.format == self.Format.SAFETENSORS

    @property
    def decomposable(self) -> bool:
        """Runnable, and its channels group, so it can be split into per-class modules."""
        return self.runnable and not self.channel_analysis_error

    @property
    def not_decomposable_reason(self) -> str:
        if self.decomposable:
            return ""
        return self.channel_analysis_error if self.runnable else self.ONNX_NOT_DECOMPOSABLE

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


class Evaluation(Artifact):
    """A base model measured on one split of one data set."""

    model = models.ForeignKey(BaseModel, on_delete=models.PROTECT, related_name="evaluations")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="+")
    split = models.CharField(max_length=8, default="test")
    accuracy = models.FloatField()
    metrics = models.JSONField(help_text="per-class precision/recall/F1/support, confusion matrix")

    class Meta(Artifact.Meta):
        constraints = [
            models.CheckConstraint(condition=models.Q(accuracy__gte=0, accuracy__lte=1),
                                   name="evaluation_accuracy_in_0_1"),
        ]


class Decomposition(Artifact):
    class Method(models.TextChoices):
        GRADSPLITTER = "gradsplitter", "GradSplitter"
        CNNSPLITTER = "cnnsplitter", "CNNSplitter"
        CONCERN = "concern", "Concern identification"

    base_model = models.ForeignKey(BaseModel, on_delete=models.PROTECT, related_name="decompositions")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=20, choices=Method.choices)
    preset = models.CharField(max_length=20, blank=True)
    config = models.JSONField()
    seed = models.IntegerField()
    device = models.CharField(max_length=16, default="cpu")
    history = models.JSONField(help_text="per-epoch accuracy, kernel retention and seconds")
    selected_epoch = models.IntegerField(null=True, blank=True)
    composed_accuracy = models.FloatField()
    base_accuracy = models.FloatField()
    mean_kernel_retention = models.FloatField()
    metrics = models.JSONField(default=dict)
    result = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+",
                               help_text="masks and heads (safetensors)")
    result_spec = models.JSONField(default=dict)

    class Meta(Artifact.Meta):
        constraints = [
            models.CheckConstraint(condition=models.Q(mean_kernel_retention__gte=0, mean_kernel_retention__lte=1),
                                   name="decomposition_retention_in_0_1"),
            models.CheckConstraint(condition=models.Q(composed_accuracy__gte=0, composed_accuracy__lte=1),
                                   name="decomposition_accuracy_in_0_1"),
        ]


class Module(Artifact):
    """One class's sub-network, physically sliced from the base model, and how it scores its class."""

    class Scoring(models.TextChoices):  # the engine's scoring kinds (splitter_engine.scoring)
        HEAD = "head", "Head over the sliced logits (sigmoid)"
        LOGIT = "logit", "Raw class logit"
        CLASS_VS_REST = "class_vs_rest", "Class vs rest (softmax probability)"

    decomposition = models.ForeignKey(Decomposition, on_delete=models.PROTECT, related_name="modules")
    base_model = models.ForeignKey(BaseModel, on_delete=models.PROTECT, related_name="modules")
    class_index = models.IntegerField()
    class_name = models.CharField(max_length=120, db_index=True)
    scoring = models.CharField(max_length=20, choices=Scoring.choices, default=Scoring.HEAD,
                               help_text="how the module scores its class")
    spec = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+", help_text="JSON spec")
    weights = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+", help_text="safetensors")
    kept_kernels = models.IntegerField()
    total_kernels = models.IntegerField()
    params = models.BigIntegerField()
    flops = models.BigIntegerField()
    params_fraction = models.FloatField()
    flops_fraction = models.FloatField()
    precision = models.FloatField()
    recall = models.FloatField()
    f1 = models.FloatField()

    class Meta(Artifact.Meta):
        constraints = [
            models.UniqueConstraint(fields=["decomposition", "class_index"], name="module_one_per_class"),
            models.CheckConstraint(condition=models.Q(class_index__gte=0), name="module_class_index_not_negative"),
            models.CheckConstraint(condition=models.Q(kept_kernels__gte=0, kept_kernels__lte=models.F("total_kernels")),
                                   name="module_kept_within_total"),
            models.CheckConstraint(condition=models.Q(f1__gte=0, f1__lte=1), name="module_f1_in_0_1"),
        ]

    def __str__(self) -> str:
        return f"{self.base_model.name} · class {self.class_name}"

    @property
    def kept_fraction(self) -> float:
        return self.kept_kernels / self.total_kernels if self.total_kernels else 0.0


# The largest max |onnxruntime - PyTorch| a stored build may have: the engine's limit
# (splitter_engine.onnx_export.PARITY_LIMIT, above which an export fails). Written out, not imported, so that
# loading the models does not load torch; tests/registry/test_onnx_parity_limit.py checks that this value, the
# engine's and the migration's constraint agree.
ONNX_PARITY_LIMIT = 1e-4


class Build(Artifact):
    """A composed classifier or a patched model, exported as one ONNX file."""

    class Kind(models.TextChoices):
        COMPOSE = "compose", "Composed from modules"
        PATCH = "patch", "Patched model"

    class Strategy(models.TextChoices):
        ENSEMBLE = "ensemble", "Ensemble"
        FUSED = "fused", "Fused trunk"

    PARITY_LIMIT = ONNX_PARITY_LIMIT

    name = models.CharField(max_length=120, blank=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    strategy = models.CharField(max_length=10, choices=Strategy.choices, blank=True)
    calibration = models.CharField(max_length=16, default="none")
    cache_key = models.CharField(max_length=64, unique=True,
                                 help_text="sha256 of the selection and options: same request, same build")
    class_names = models.JSONField()
    input_spec = models.JSONField()
    options = models.JSONField(default=dict)
    onnx = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+")
    metrics = models.JSONField(default=dict)
    parity_max_abs_diff = models.FloatField()
    modules = models.ManyToManyField(Module, through="BuildItem", related_name="builds")
    base_models = models.ManyToManyField(BaseModel, related_name="builds")

    class Meta(Artifact.Meta):
        constraints = [
            models.CheckConstraint(condition=models.Q(parity_max_abs_diff__gte=0,
                                                      parity_max_abs_diff__lte=ONNX_PARITY_LIMIT),
                                   name="build_onnx_parity_within_1e-4"),
        ]


class BuildItem(models.Model):
    """Position ``position`` of a build's output: class ``class_name`` from ``module``."""

    build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="items")
    module = models.ForeignKey(Module, on_delete=models.PROTECT, related_name="+")
    position = models.IntegerField()
    class_name = models.CharField(max_length=120)

    class Meta:
        ordering = ["build", "position"]
        constraints = [
            models.UniqueConstraint(fields=["build", "position"], name="builditem_position_unique"),
            models.CheckConstraint(condition=models.Q(position__gte=0), name="builditem_position_not_negative"),
        ]
