"""Roles are Django groups; this module is the single source of what each role may do.

Permissions are granted by pattern (``app_label.action_model``, ``*`` allowed) and synced after
every migrate, so a model added by a later issue gets its role permissions without a new migration.
"""

from __future__ import annotations

from fnmatch import fnmatch

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils.translation import gettext_lazy as _

ANALYST = "analyst"
MANAGER = "manager"
OPERATIONS = "operations"
AUDITOR = "auditor"
ROLES = (ANALYST, MANAGER, OPERATIONS, AUDITOR)
ROLE_LABELS = {
    ANALYST: _("Credit analyst"),
    MANAGER: _("Credit manager"),
    OPERATIONS: _("Operations"),
    AUDITOR: _("Auditor"),
}

_DOMAIN_APPS = ("customers", "scoring", "monitoring", "mitigation")
_VIEW_ALL = [f"{app}.view_*" for app in (*_DOMAIN_APPS, "core")]

# Custom (non-model) permissions live on core.AuditEvent's Meta so they have one home.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    ANALYST: [
        *[f"{app}.view_*" for app in _DOMAIN_APPS],
        "customers.add_*",
        "customers.change_*",
        "customers.delete_document",
        "customers.delete_contact",
        "scoring.add_scoreoverride",
        "monitoring.change_alert",
        "monitoring.add_alertcomment",
        "monitoring.add_review",
        "monitoring.change_review",
        "mitigation.add_creditlimit",
        "mitigation.add_security",
        "mitigation.change_security",
        "mitigation.add_insurancelimit",
        "mitigation.change_salesorderdecision",
        "core.run_import",
    ],
    MANAGER: [
        *_VIEW_ALL,
        "customers.*",
        "scoring.*",
        "monitoring.*",
        "mitigation.*",
        "core.run_import",
        "core.view_audit",
        "core.manage_settings",
    ],
    OPERATIONS: [
        *[f"{app}.view_*" for app in _DOMAIN_APPS],
        "django_celery_beat.*",
        "monitoring.add_jobrun",
        "monitoring.change_jobrun",
        "core.run_import",
        "core.manage_jobs",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
    ],
    AUDITOR: [
        *_VIEW_ALL,
        "django_celery_beat.view_*",
        "auth.view_user",
        "auth.view_group",
        "core.view_audit",
    ],
}


def permission_matches(role: str, app_label: str, codename: str) -> bool:
    full = f"{app_label}.{codename}"
    return any(fnmatch(full, pattern) for pattern in ROLE_PERMISSIONS[role])


def sync_role_permissions() -> None:
    """Create the role groups and give each exactly the permissions its patterns match."""
    from django.contrib.auth.models import Group, Permission

    permissions = list(Permission.objects.select_related("content_type"))
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        wanted = [p for p in permissions if permission_matches(role, p.content_type.app_label, p.codename)]
        group.permissions.set(wanted)


def sync_role_permissions_after_migrate(sender, **kwargs) -> None:
    """post_migrate fires once per app; sync once, after the last app has created its permissions."""
    from django.apps import apps

    if sender.label != list(apps.get_app_configs())[-1].label:
        return
    sync_role_permissions()


def user_roles(user: AbstractBaseUser | AnonymousUser) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_creditrisk_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._creditrisk_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    if not user.is_authenticated:
        return False
    return bool(user.is_superuser or user_roles(user) & set(roles))


# Which roles may open each section of the site (pages check this; finer write rights are permissions).
ALL_ROLES = frozenset(ROLES)
SECTION_ROLES: dict[str, frozenset[str]] = {
    "dashboard": ALL_ROLES,
    "customers": ALL_ROLES,
    "alerts": frozenset({ANALYST, MANAGER, AUDITOR}),
    "reviews": frozenset({ANALYST, MANAGER, AUDITOR}),
    "limits": frozenset({ANALYST, MANAGER, AUDITOR}),
    "held_orders": frozenset({ANALYST, MANAGER, AUDITOR}),
    "scoring": frozenset({ANALYST, MANAGER, AUDITOR}),
    "imports": frozenset({ANALYST, MANAGER, OPERATIONS}),
    "jobs": frozenset({OPERATIONS, MANAGER, AUDITOR}),
    "audit": frozenset({MANAGER, AUDITOR}),
    "settings": frozenset({MANAGER}),
}


def can_open(user, section: str) -> bool:
    return has_role(user, *SECTION_ROLES[section])
