from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class LifecycleConfig(AppConfig):
    name = "lifecycle"
    verbose_name = "Provider lifecycle"

    def ready(self) -> None:
        from core import auth_cache
        from lifecycle.models import ProviderModel

        # API requests read the catalogue from a per-process copy that the auth epoch vouches for
        # (lifecycle.selectors.catalogue_cached): a write to an entry must move the epoch, except the
        # sync's stamp, which changes nothing a runway reads; and a thread that writes an entry stops
        # trusting the epoch its request read before.
        auth_cache.watch(ProviderModel._meta.db_table, ignored=("last_synced_at",))
        forget = auth_cache.request_epoch_forget
        post_save.connect(forget, sender=ProviderModel, dispatch_uid="lifecycle_epoch_save")
        post_delete.connect(forget, sender=ProviderModel, dispatch_uid="lifecycle_epoch_delete")
