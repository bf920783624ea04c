"""Forms for every page that writes; each validates input and shows service errors next to fields."""
from frontend.forms.common import apply_service_error
from frontend.forms.datasets import BuiltinDatasetForm, DatasetUploadForm
from frontend.forms.filters import ModelFilterForm, ModuleFilterForm
from frontend.forms.models import DecomposeForm, EvaluateForm, ModelCardForm, ModelUploadForm, TrainForm

__all__ = ["apply_service_error", "BuiltinDatasetForm", "DatasetUploadForm", "ModelFilterForm", "ModuleFilterForm",
           "DecomposeForm", "EvaluateForm", "ModelCardForm", "ModelUploadForm", "TrainForm"]
