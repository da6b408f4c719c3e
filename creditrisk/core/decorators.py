"""View guards: a section's roles, and a permission for writes."""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied

from creditrisk.core.roles import can_open


def section_required(section: str):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not can_open(request.user, section):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def permission_or_403(user, *perms: str) -> None:
    if not user.has_perms(perms):
        raise PermissionDenied
