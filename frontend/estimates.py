"""What the builder's estimate shows beyond sizes: the base models' stored test scores on the chosen classes."""
from __future__ import annotations

from frontend.presenters import _natural, per_class_rows


def base_scores_on_classes(user, modules) -> list[dict]:
    """Per base model of ``modules``: its newest test-split evaluation restricted to the chosen classes, from the
    stored per-class metrics (nothing is run): recall over those classes' test images, weighted by support (the
    base model picks among all its outputs, so this is a floor for the same classes in a smaller classifier),
    and their mean F1. Models without a stored test evaluation are listed with None."""
    from modules_registry.selectors import evaluations_visible_to

    by_model: dict[int, tuple] = {}
    for m in modules:
        by_model.setdefault(m.base_model_id, (m.base_model, set()))[1].add(m.class_name)
    out = []
    for model, names in by_model.values():
        evaluation = (evaluations_visible_to(user).filter(model=model, split="test")
                      .order_by("-created_at", "-id").first())
        rows = [r for r in per_class_rows(evaluation.metrics if evaluation else {}, model.class_names)
                if r["class"] in names and isinstance(r["recall"], (int, float))
                and isinstance(r["support"], int) and r["support"] > 0]
        entry = {"model": model, "classes": sorted(names, key=_natural), "accuracy": None, "f1": None, "images": 0}
        if rows and len(rows) == len(names):
            images = sum(r["support"] for r in rows)
            entry.update(images=images, accuracy=sum(r["recall"] * r["support"] for r in rows) / images,
                         f1=sum(r["f1"] or 0 for r in rows) / len(rows))
        out.append(entry)
    return out
