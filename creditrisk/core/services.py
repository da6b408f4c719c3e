"""Writes of the core: users and their roles (audited)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from creditrisk.core.audit import audit_record
from creditrisk.core.roles import ROLES


@transaction.atomic
def user_create(*, actor, username: str, password: str, roles: list[str], email: str = "",
                first_name: str = "", last_name: str = "", is_superuser: bool = False):
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"Unknown role(s): {', '.join(sorted(unknown))}")
    User = get_user_model()
    user = User(username=username, email=email, first_name=first_name, last_name=last_name,
                is_superuser=is_superuser, is_staff=is_superuser)
    user.set_password(password)
    user.full_clean()
    user.save()
    user.groups.set(Group.objects.filter(name__in=roles))
    audit_record(actor=actor, action="user.create", subject_type="auth.user", subject_id=user.pk,
                 subject_label=username, after={"username": username, "roles": sorted(roles),
                                                "is_superuser": is_superuser})
    return user
