"""Domain errors and the API's one error shape: {"message": ..., "errors": {...}}."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    """A business rule refused the operation; the message is safe to show to the user."""

    status_code = 400

    def __init__(self, message: str, *, errors: dict | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.code = code


class Conflict(DomainError):
    status_code = 409


def _django_validation_errors(exc: DjangoValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for e in errs for m in e.messages] for field, errs in exc.error_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


def api_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response({"message": exc.message, "code": exc.code, "errors": exc.errors}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        errors = _django_validation_errors(exc)
        first = next(iter(errors.values()), ["Invalid input."])
        return Response({"message": first[0] if first else "Invalid input.", "code": "invalid", "errors": errors},
                        status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        errors = data if isinstance(data, dict) else {"non_field_errors": data}
        message = "Invalid input."
        for value in errors.values():
            if isinstance(value, list) and value:
                message = str(value[0])
                break
        response.data = {"message": message, "code": "invalid", "errors": errors}
    else:
        detail = data.get("detail", data) if isinstance(data, dict) else data
        response.data = {"message": str(detail), "code": getattr(detail, "code", "error"), "errors": {}}
    return response
