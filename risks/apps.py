from django.apps import AppConfig


class RisksConfig(AppConfig):
    name = "risks"
    verbose_name = "Risk register"

    def ready(self) -> None:
        from registry.cards import register_risk_lines
        from risks.cards import card_risk_lines

        register_risk_lines(card_risk_lines)

        from registry.signals import deployment_started
        from risks.tasks import lifecycle_risks_after_deployment

        deployment_started.connect(lifecycle_risks_after_deployment, dispatch_uid="risks-lifecycle-after-deployment")
