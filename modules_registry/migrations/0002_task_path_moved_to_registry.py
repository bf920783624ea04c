"""Jobs queued before the bridge moved from ``splitter_engine.tasks`` to ``modules_registry.tasks`` still run."""
from django.db import migrations

OLD = "splitter_engine.tasks.run_job"
NEW = "modules_registry.tasks.run_job"


def rename(apps, old: str, new: str) -> None:
    apps.get_model("django_tasks_database", "DBTaskResult").objects.filter(task_path=old).update(task_path=new)


class Migration(migrations.Migration):
    dependencies = [
        ("modules_registry", "0001_initial"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [
        migrations.RunPython(lambda apps, schema_editor: rename(apps, OLD, NEW),
                             lambda apps, schema_editor: rename(apps, NEW, OLD)),
    ]
