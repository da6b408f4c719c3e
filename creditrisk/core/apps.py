from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "creditrisk.core"
    label = "core"
    verbose_name = "CreditRisk core"

    def ready(self) -> None:
        from creditrisk.core import roles

        post_migrate.connect(roles.sync_role_permissions_after_migrate, dispatch_uid="core.sync_roles")
