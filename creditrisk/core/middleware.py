"""Login everywhere: pages redirect to the login form; the API answers 401/403 through DRF."""

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware

PUBLIC_PREFIXES = ("/api/", "/static/", "/healthz", "/favicon.ico")


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(PUBLIC_PREFIXES):
            # The API authenticates with tokens too, so DRF decides (401/403 in the one error shape).
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
