from django.contrib import admin

from modules_registry.models import BaseModel, Blob, Build, BuildItem, Dataset, Decomposition, Evaluation, Job, Module


class ArtifactAdmin(admin.ModelAdmin):
    """Artefacts are immutable: the admin shows them and edits only their descriptive fields."""

    list_filter = ("visibility",)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        mutable = set(self.model.MUTABLE_FIELDS)
        return [f.name for f in self.model._meta.concrete_fields if f.name not in mutable]

    def has_add_permission(self, request):
        return False  # artefacts come from jobs, with their files and lineage

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Blob)
class BlobAdmin(admin.ModelAdmin):
    list_display = ("sha256", "size", "media_type", "created_at")
    search_fields = ("sha256",)
    readonly_fields = ("sha256", "size", "media_type", "created_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Dataset)
class DatasetAdmin(ArtifactAdmin):
    list_display = ("name", "source", "owner", "visibility", "created_at")
    search_fields = ("name",)


@admin.register(BaseModel)
class BaseModelAdmin(ArtifactAdmin):
    list_display = ("name", "architecture", "format", "dataset", "owner", "visibility", "created_at")
    list_filter = ("visibility", "format", "architecture")
    search_fields = ("name", "architecture")


@admin.register(Evaluation)
class EvaluationAdmin(ArtifactAdmin):
    list_display = ("model", "dataset", "split", "accuracy", "created_at")


@admin.register(Decomposition)
class DecompositionAdmin(ArtifactAdmin):
    list_display = ("base_model", "method", "preset", "composed_accuracy", "mean_kernel_retention", "created_at")
    list_filter = ("visibility", "method")


@admin.register(Module)
class ModuleAdmin(ArtifactAdmin):
    list_display = ("base_model", "class_name", "kept_kernels", "total_kernels", "f1", "created_at")
    search_fields = ("class_name", "base_model__name")


class BuildItemInline(admin.TabularInline):
    model = BuildItem
    extra = 0
    can_delete = False
    readonly_fields = ("module", "position", "class_name")


@admin.register(Build)
class BuildAdmin(ArtifactAdmin):
    list_display = ("pk", "kind", "strategy", "calibration", "parity_max_abs_diff", "created_at")
    inlines = [BuildItemInline]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("pk", "kind", "status", "progress", "stage", "owner", "device", "created_at")
    list_filter = ("status", "kind", "device")
    readonly_fields = [f.name for f in Job._meta.concrete_fields if f.name != "cancel_requested"]
