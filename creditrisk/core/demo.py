"""Demo users for every role (used by seed_demo and by `make run`)."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from creditrisk.core.services import user_create

# username, password, roles, superuser, display name
DEMO_USERS = [
    ("analyst", "analyst-demo-pass", ["analyst"], False, ("Ada", "Analyst")),
    ("analyst2", "analyst2-demo-pass", ["analyst"], False, ("Bo", "Li")),
    ("manager", "manager-demo-pass", ["manager"], False, ("Mei", "Manager")),
    ("manager2", "manager2-demo-pass", ["manager"], False, ("Max", "Chen")),
    ("operations", "operations-demo-pass", ["operations"], False, ("Otto", "Ops")),
    ("auditor", "auditor-demo-pass", ["auditor"], False, ("Aud", "Itor")),
    ("admin", "admin-demo-pass", [], True, ("Admin", "")),
]


def demo_users_create() -> list[tuple[str, str, str]]:
    """Create the missing demo users; returns (username, password, role) for every demo user."""
    User = get_user_model()
    existing = set(User.objects.filter(username__in=[u[0] for u in DEMO_USERS]).values_list("username", flat=True))
    rows = []
    for username, password, roles, superuser, (first, last) in DEMO_USERS:
        if username not in existing:
            user_create(actor=None, username=username, password=password, roles=roles, is_superuser=superuser,
                        first_name=first, last_name=last, email=f"{username}@example.com")
        rows.append((username, password, "admin" if superuser else ", ".join(roles)))
    return rows
