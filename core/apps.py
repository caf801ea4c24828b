from django.apps import AppConfig
from django.core.signals import request_finished, request_started
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Access and audit"

    def ready(self) -> None:
        from core import audit, auth_cache, lockouts  # noqa: F401  (connect the history signal, record admin lockouts)
        from core.roles import roles_sync

        post_migrate.connect(roles_sync, dispatch_uid="fineprint_roles_sync")
        post_migrate.connect(_chain_after_migrate, sender=self, dispatch_uid="fineprint_chain_after_migrate")
        post_migrate.connect(_auth_epoch_after_migrate, sender=self, dispatch_uid="fineprint_auth_epoch_after_migrate")
        # What a request's authentication read vouches for that request only.
        request_started.connect(auth_cache.request_epoch_forget, dispatch_uid="fineprint_request_epoch_start")
        request_finished.connect(auth_cache.request_epoch_forget, dispatch_uid="fineprint_request_epoch_end")


def _chain_after_migrate(sender, using="default", **kwargs) -> None:
    """(Re)install the append-only triggers, then chain history written before the chain existed."""
    from core import chain

    chain.triggers_install(using)
    chain.backfill(using)


def _auth_epoch_after_migrate(sender, using="default", **kwargs) -> None:
    """(Re)install the triggers that invalidate the API token cache (core.auth_cache)."""
    from core import auth_cache

    auth_cache.triggers_install(using)
