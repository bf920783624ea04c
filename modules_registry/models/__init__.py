from modules_registry.models.artifacts import (BaseModel, Build, BuildItem, Dataset, Decomposition, Evaluation,
                                               Module)
from modules_registry.models.base import ImmutableRowError, Visibility
from modules_registry.models.blob import Blob
from modules_registry.models.experiment import Experiment
from modules_registry.models.job import Job

__all__ = ["Blob", "Dataset", "BaseModel", "Evaluation", "Decomposition", "Module", "Build", "BuildItem",
           "Job", "Experiment", "Visibility", "ImmutableRowError"]
