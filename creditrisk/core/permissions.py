"""API permissions: model permissions (view included) granted through the role groups."""

from __future__ import annotations

from rest_framework.permissions import BasePermission, DjangoModelPermissions


class RoleModelPermissions(DjangoModelPermissions):
    """Like DjangoModelPermissions, but reading also needs the model's view permission.

    Views without a queryset (domain operations) declare ``required_permissions`` instead.
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view):
        required = getattr(view, "required_permissions", None)
        if required is not None:
            if not request.user or not request.user.is_authenticated:
                return False
            perms = required.get(request.method, required.get("*", [])) if isinstance(required, dict) else required
            return request.user.has_perms(perms)
        if getattr(view, "queryset", None) is None and not hasattr(view, "get_queryset"):
            return bool(request.user and request.user.is_authenticated)
        return super().has_permission(request, view)


class HasPermissions(BasePermission):
    """Usage: permission_classes = [HasPermissions.of("mitigation.approve_creditlimit")]."""

    perms: tuple[str, ...] = ()

    @classmethod
    def of(cls, *perms: str):
        return type("HasPermissions", (cls,), {"perms": perms})

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.has_perms(self.perms))
