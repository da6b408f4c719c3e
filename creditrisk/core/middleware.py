"""Login everywhere: pages redirect to the login form; the API answers 401/403 through DRF."""

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware

PUBLIC_PREFIXES = ("/api/", "/static/", "/healthz", "/favicon.ico")


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(PUBLIC_PREFIXES):
            # The API authenticates with tokens too, so DRF decides (401/403 in the one error shape).
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class DomainErrorMiddleware:
    """A business rule refusing an operation in a page view (DomainError) becomes a clear 400/409 page.

    htmx requests get the message as a toast (HX-Trigger) and no swap; full pages get a short error page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        import json

        from django.shortcuts import render

        from creditrisk.core.exceptions import DomainError

        if not isinstance(exception, DomainError) or request.path.startswith("/api/"):
            return None
        if getattr(request, "htmx", False):
            from django.http import HttpResponse

            response = HttpResponse(status=exception.status_code)
            response["HX-Trigger"] = json.dumps({"toast": {"message": exception.message, "level": "error"}})
            return response
        return render(request, "core/domain_error.html", {"message": exception.message},
                      status=exception.status_code)
