from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill(apps, schema_editor):
    """Until now a version trained on its model's base model: record that on each version (and its history).

    Migrations are the documented exception to "history is never rewritten": this adds a
    column with the value every existing row already implied, and changes no recorded value.
    """
    RegisteredModel = apps.get_model("registry", "RegisteredModel")
    base = Subquery(RegisteredModel.objects.filter(pk=OuterRef("model_id")).values("base_model")[:1])
    for name in ("ModelVersion", "HistoricalModelVersion"):
        apps.get_model("registry", name).objects.filter(base_model="").update(base_model=base)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0007_promotion_tokens"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalmodelversion",
            name="base_model",
            field=models.CharField(default="", max_length=100),
        ),
        migrations.AddField(
            model_name="modelversion",
            name="base_model",
            field=models.CharField(default="", max_length=100),
        ),
        migrations.AlterField(
            model_name="historicalregisteredmodel",
            name="base_model",
            field=models.CharField(help_text="New versions train on it, e.g. gpt-4.1-mini-2025-04-14.", max_length=100),
        ),
        migrations.AlterField(
            model_name="historicalregisteredmodel",
            name="base_model_retires_on",
            field=models.DateField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name="registeredmodel",
            name="base_model",
            field=models.CharField(help_text="New versions train on it, e.g. gpt-4.1-mini-2025-04-14.", max_length=100),
        ),
        migrations.AlterField(
            model_name="registeredmodel",
            name="base_model_retires_on",
            field=models.DateField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="historicalmodelversion", name="base_model", field=models.CharField(max_length=100)
        ),
        migrations.AlterField(model_name="modelversion", name="base_model", field=models.CharField(max_length=100)),
    ]
