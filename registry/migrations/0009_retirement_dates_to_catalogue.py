from django.db import migrations
from django.utils import timezone

REASON = "Moved from the model's base_model_retires_on (typed by hand before the provider catalogue existed)"


def move(apps, schema_editor):
    """Each hand-typed retirement date becomes a manual catalogue value for that base model, with history."""
    RegisteredModel = apps.get_model("registry", "RegisteredModel")
    ProviderModel = apps.get_model("lifecycle", "ProviderModel")
    History = apps.get_model("lifecycle", "HistoricalProviderModel")
    now = timezone.now()
    typed = RegisteredModel.objects.exclude(base_model_retires_on=None).order_by("id")
    for model in typed:
        if ProviderModel.objects.filter(provider=model.provider, model_id=model.base_model).exists():
            continue  # two models on one base: the first one's date stands, as a manual value
        fine_tuned = model.base_model.startswith("ft:")
        entry = ProviderModel.objects.create(
            provider=model.provider,
            model_id=model.base_model,
            kind="fine_tuned" if fine_tuned else "base",
            base_model_id=model.base_model.split(":")[1] if fine_tuned else "",
            state="shutdown" if model.base_model_retires_on <= now.date() else "deprecated",
            shutdown_date=model.base_model_retires_on,
            shutdown_date_source="manual",
            manual_reason=REASON,
            listed=False,
        )
        fields = {f.attname: getattr(entry, f.attname) for f in ProviderModel._meta.concrete_fields}
        fields.pop("last_synced_at", None)
        History.objects.create(
            **fields,
            history_date=now,
            history_type="+",
            history_change_reason=REASON,
            history_source="system",
        )


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0008_version_base_model"),
        ("lifecycle", "0001_initial"),
    ]

    operations = [migrations.RunPython(move, migrations.RunPython.noop)]
