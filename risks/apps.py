from django.apps import AppConfig


class RisksConfig(AppConfig):
    name = "risks"
    verbose_name = "Risk register"

    def ready(self) -> None:
        from registry.cards import register_risk_lines
        from risks.cards import card_risk_lines

        register_risk_lines(card_risk_lines)
