from django.db import migrations, models


def epoch_row_create(apps, schema_editor):
    # The one row the triggers bump (core.auth_cache); they re-create it too if it goes.
    apps.get_model("core", "AuthEpoch").objects.using(schema_editor.connection.alias).get_or_create(
        id=1, defaults={"n": 0}
    )


def triggers_drop(apps, schema_editor):
    from core.auth_cache import triggers_drop

    triggers_drop(schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0008_audit_verification_labels"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuthEpoch",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("n", models.BigIntegerField(default=0)),
            ],
            options={
                "verbose_name": "authentication epoch",
            },
        ),
        migrations.RunPython(epoch_row_create, triggers_drop),
    ]
