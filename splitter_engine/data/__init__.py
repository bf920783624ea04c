"""Data sets as uint8 image arrays with class names, an input spec and seeded splits."""
from splitter_engine.data.dataset import ImageDataset, stratified_splits
from splitter_engine.data.builtin import BUILTIN_DATASETS, load_builtin

__all__ = ["ImageDataset", "stratified_splits", "BUILTIN_DATASETS", "load_builtin"]
