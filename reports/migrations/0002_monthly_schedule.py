"""The monthly report's beat entry: 06:00 on the 1st, in the configured time zone.

Created here once, not from CELERY_BEAT_SCHEDULE (which beat rewrites at every
start), so that compliance staff can change it in the admin (Periodic tasks) and
the change sticks.
"""

from django.conf import settings
from django.db import migrations

NAME = "Monthly risk report"


def create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="6", day_of_month="1", month_of_year="*", day_of_week="*", timezone=settings.TIME_ZONE
    )
    PeriodicTask.objects.create(
        name=NAME,
        task="reports.tasks.report_monthly",
        crontab=crontab,
        description="Last month's report, generated once per period and emailed to the Executives group.",
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
