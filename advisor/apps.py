from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AdvisorConfig(AppConfig):
    name = "advisor"
    verbose_name = "Knowledge base"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from advisor import versioning

        versioning.connect_signals()


class AdvisorAdminConfig(admin_apps.AdminConfig):
    """Django's admin with our site as the default one, so that every page can show integrity problems."""

    default = False
    default_site = "advisor.admin_site.AdvisorAdminSite"
