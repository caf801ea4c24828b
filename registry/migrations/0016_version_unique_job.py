# The job id's uniqueness as a named constraint: the same unique index, without the LIKE index that
# `unique=True` adds beside it on PostgreSQL, which no query reads and every registration wrote.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0015_index_diet'),
    ]

    operations = [
        migrations.AlterField(
            model_name='modelversion',
            name='provider_job_id',
            field=models.CharField(blank=True, max_length=100, null=True),
        ),
        migrations.AddConstraint(
            model_name='modelversion',
            constraint=models.UniqueConstraint(fields=('provider_job_id',), name='model_version_unique_job'),
        ),
    ]
