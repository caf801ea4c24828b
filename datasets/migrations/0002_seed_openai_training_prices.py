"""OpenAI's published fine-tuning training prices, per 1M training tokens, as seeded data.

Source: OpenAI's API pricing page, "Fine-tuning" table (https://platform.openai.com/docs/pricing,
training column), as published when GPT-4.1 became fine-tunable on 2025-04-14; the rows below
take effect on that date. Compliance edits these rows (and adds later ones) in the admin, with
a reason; this migration only seeds them once and never overwrites an edit.
"""

from decimal import Decimal

from django.db import migrations

SOURCE = "https://platform.openai.com/docs/pricing (Fine-tuning, training), as of 2025-04-14"
EFFECTIVE_FROM = "2025-04-14"
PRICES = {
    "gpt-4.1": Decimal("25.00"),
    "gpt-4.1-mini": Decimal("5.00"),
    "gpt-4.1-nano": Decimal("1.50"),
    "gpt-4o": Decimal("25.00"),
    "gpt-4o-mini": Decimal("3.00"),
    "gpt-3.5-turbo": Decimal("8.00"),
}


def seed(apps, schema_editor):
    PriceRow = apps.get_model("datasets", "PriceRow")
    for base_model, usd in PRICES.items():
        PriceRow.objects.get_or_create(
            provider="openai",
            base_model=base_model,
            effective_from=EFFECTIVE_FROM,
            defaults={"usd_per_million_training_tokens": usd, "source": SOURCE},
        )


def unseed(apps, schema_editor):
    PriceRow = apps.get_model("datasets", "PriceRow")
    PriceRow.objects.filter(provider="openai", effective_from=EFFECTIVE_FROM, source=SOURCE).delete()


class Migration(migrations.Migration):
    dependencies = [("datasets", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
