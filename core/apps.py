from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Access and audit"

    def ready(self) -> None:
        from core import audit, lockouts  # noqa: F401  (connect the history signal, record admin lockouts)
        from core.roles import roles_sync

        post_migrate.connect(roles_sync, dispatch_uid="fineprint_roles_sync")
        post_migrate.connect(_chain_after_migrate, sender=self, dispatch_uid="fineprint_chain_after_migrate")


def _chain_after_migrate(sender, using="default", **kwargs) -> None:
    """(Re)install the append-only triggers, then chain history written before the chain existed."""
    from core import chain

    chain.triggers_install(using)
    chain.backfill(using)
