from django.conf import settings
from django.db import migrations

ROLES = ["Engineers", "Compliance", "Executives"]


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)
    # The account that background tasks act as; it cannot log in.
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    User.objects.get_or_create(
        username=settings.FINEPRINT_SERVICE_USERNAME,
        defaults={"is_active": True, "password": "!", "first_name": "Fineprint", "last_name": "service"},
    )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
