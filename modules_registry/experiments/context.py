"""One seed of an experiment run: the rows its experiments share, made once (a base model trained for the method
comparison is also the from-scratch baseline of the new-task experiment and the strong model of patching)."""
from __future__ import annotations

from dataclasses import dataclass, field

from modules_registry.experiments.profiles import Profile
from modules_registry.experiments.steps import Steps
from modules_registry.models import BaseModel, Dataset, Decomposition, Evaluation, Module


def ref(row) -> dict:
    """How a report names a registry row: its kind, id and name (the page turns it into a link)."""
    kind = {BaseModel: "model", Decomposition: "decomposition", Module: "module"}.get(type(row),
                                                                                       type(row).__name__.lower())
    if isinstance(row, Decomposition):
        label = f"{row.method} ({row.preset}) of {row.base_model.name}"
    elif isinstance(row, Evaluation):
        label = f"{row.split} evaluation of {row.model.name}"
    else:
        label = getattr(row, "name", "") or str(row)
    return {"kind": kind, "id": row.pk, "label": label[:80]}


def test_accuracy(model: BaseModel) -> float:
    evaluation = model.evaluations.filter(split="test").order_by("-pk").first()
    return evaluation.accuracy


@dataclass
class SeedRun:
    profile: Profile
    dataset: Dataset
    steps: Steps
    seed: int
    class_names: list[str]
    _cache: dict = field(default_factory=dict)

    def once(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def config(self, config: dict, **extra) -> dict:
        """A training config of this seed, on this run's classes (``extra`` overrides either)."""
        classes = {"classes": self.class_names} if self.profile.classes else {}
        return {**config, **classes, "seed": self.seed, **extra}

    def train(self, key: str, architecture: str, kwargs: dict, config: dict) -> BaseModel:
        return self.once(("model", key), lambda: self.steps.train(
            self.dataset, f"s{self.seed}-{key}", architecture, kwargs, config))

    def base(self) -> BaseModel:
        """The strong model: the profile's network on every class."""
        p = self.profile
        return self.train("base", p.architecture, p.arch_kwargs, self.config(p.train))

    def half(self, which: int) -> BaseModel:
        """The profile's network trained on one half of the classes (0: the first half), same budget as ``base``."""
        cut = len(self.class_names) // 2
        classes = self.class_names[:cut] if which == 0 else self.class_names[cut:]
        p = self.profile
        return self.train(f"half{which}", p.architecture, p.arch_kwargs, self.config(p.train, classes=classes))

    def decomposition(self, model: BaseModel, method: str, preset: str | None = None) -> Decomposition:
        """``model`` decomposed by ``method`` (the profile's preset unless one is named; the profile's overrides for
        the method apply to every preset of it, e.g. a lower concern confidence for tiny models)."""
        default_preset, overrides = self.profile.methods[method]
        preset = preset or default_preset
        return self.once(("decomposition", model.pk, method, preset), lambda: self.steps.decompose(
            model, self.dataset, method, preset, overrides, self.seed))

    def modules(self, decomposition: Decomposition) -> dict[str, Module]:
        return {m.class_name: m for m in decomposition.modules.all()}

    def images_per_point(self) -> float:
        """Test images per accuracy point on this run's classes (one image moves the accuracy by 1/this)."""
        counts = self.dataset.class_counts.get("test") or []
        chosen = [n for name, n in zip(self.dataset.class_names, counts) if name in self.class_names]
        return round(sum(chosen) / 100, 2)
