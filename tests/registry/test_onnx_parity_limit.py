"""One ONNX parity limit: the engine refuses an export above it, and the database refuses a build row above it."""
import importlib

from django.db.models import CheckConstraint

from modules_registry.models import Build
from splitter_engine.onnx_export import PARITY_LIMIT


def _limit(constraint: CheckConstraint) -> float:
    return dict(constraint.condition.children)["parity_max_abs_diff__lte"]


def test_the_registry_and_the_engine_have_one_parity_limit():
    initial = importlib.import_module("modules_registry.migrations.0001_initial").Migration
    name = "build_onnx_parity_within_1e-4"
    migrated = [op.constraint for op in initial.operations
                if getattr(op, "constraint", None) is not None and op.constraint.name == name]
    (model_constraint,) = [c for c in Build._meta.constraints if c.name == name]
    assert Build.PARITY_LIMIT == PARITY_LIMIT
    assert _limit(model_constraint) == PARITY_LIMIT
    assert len(migrated) == 1 and _limit(migrated[0]) == PARITY_LIMIT
