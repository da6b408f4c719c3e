"""API endpoints of the core: token, current user."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from creditrisk.core.roles import user_roles


class TokenView(ObtainAuthToken):
    """Exchange a username and password for an API token (send it as `Authorization: Token …`)."""

    throttle_classes = [AnonRateThrottle]
    permission_classes = []

    @extend_schema(
        request=inline_serializer("TokenRequest", {"username": serializers.CharField(),
                                                   "password": serializers.CharField()}),
        responses=inline_serializer("TokenResponse", {"token": serializers.CharField()}),
        tags=["auth"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class MeView(APIView):
    """Who the caller is and which roles they hold."""

    required_permissions: list[str] = []

    @extend_schema(
        responses=inline_serializer("Me", {"username": serializers.CharField(),
                                           "roles": serializers.ListField(child=serializers.CharField()),
                                           "is_superuser": serializers.BooleanField()}),
        tags=["auth"],
    )
    def get(self, request):
        return Response({"username": request.user.get_username(), "roles": sorted(user_roles(request.user)),
                         "is_superuser": request.user.is_superuser})
