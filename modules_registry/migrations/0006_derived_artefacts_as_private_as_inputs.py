"""Artefacts stored before the rule "nothing derived is more visible than its inputs" (#19): a public model
trained on a private data set, and what was made from private inputs, become private. Nothing is made public."""
from django.db import migrations

PRIVATE = "private"


def as_private_as_inputs(apps, schema_editor):
    get = lambda name: apps.get_model("modules_registry", name)  # noqa: E731
    BaseModel, Evaluation, Decomposition, Module, Build = (get(n) for n in (
        "BaseModel", "Evaluation", "Decomposition", "Module", "Build"))
    # In lineage order, so that each step sees what the steps before it made private.
    BaseModel.objects.exclude(visibility=PRIVATE).filter(dataset__visibility=PRIVATE).update(visibility=PRIVATE)
    for model in (Evaluation,):
        model.objects.exclude(visibility=PRIVATE).filter(model__visibility=PRIVATE).update(visibility=PRIVATE)
        model.objects.exclude(visibility=PRIVATE).filter(dataset__visibility=PRIVATE).update(visibility=PRIVATE)
    for field in ("base_model__visibility", "dataset__visibility"):
        Decomposition.objects.exclude(visibility=PRIVATE).filter(**{field: PRIVATE}).update(visibility=PRIVATE)
    for field in ("decomposition__visibility", "base_model__visibility"):
        Module.objects.exclude(visibility=PRIVATE).filter(**{field: PRIVATE}).update(visibility=PRIVATE)
    for field in ("modules__visibility", "base_models__visibility"):
        ids = Build.objects.exclude(visibility=PRIVATE).filter(**{field: PRIVATE}).values_list("pk", flat=True)
        Build.objects.filter(pk__in=list(ids)).update(visibility=PRIVATE)


class Migration(migrations.Migration):
    dependencies = [("modules_registry", "0005_basemodel_tags")]
    operations = [migrations.RunPython(as_private_as_inputs, migrations.RunPython.noop)]
