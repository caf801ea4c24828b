from django.apps import AppConfig


class SbsConfig(AppConfig):
    name = "sbs"
    verbose_name = "Side-by-side evaluation"
