from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Model registry"

    def ready(self) -> None:
        from datasets.selectors import register_golden_source
        from registry.data_cards import goldens_cited_for

        # The dataset check compares against the golden sets this registry's evaluations cite.
        register_golden_source(goldens_cited_for)
