from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MitigationConfig(AppConfig):
    name = "mitigation"
    verbose_name = _("mitigation")
