"""Data sets as uint8 image arrays with class names, an input spec and seeded splits."""
from splitter_engine.data.dataset import ImageDataset, stratified_splits
from splitter_engine.data.builtin import BUILTIN_DATASETS, load_builtin
from splitter_engine.data.limits import DatasetReadError, ReadLimits, UnsafeArchiveError
from splitter_engine.data.read import FORMATS, detect_format, read_dataset

__all__ = ["ImageDataset", "stratified_splits", "BUILTIN_DATASETS", "load_builtin", "DatasetReadError",
           "ReadLimits", "UnsafeArchiveError", "FORMATS", "detect_format", "read_dataset"]
