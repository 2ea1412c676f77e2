from django.conf import settings
from django.http import HttpRequest, HttpResponse

from casefile.core.errors import PayloadTooLarge
from casefile.core.http import error_response


class RequestSizeLimitMiddleware:
    """Answer 413 before reading a body whose declared size is over `MAX_REQUEST_BYTES`.

    Bodies without a Content-Length are capped by Django's DATA_UPLOAD_MAX_MEMORY_SIZE, whose
    error the API maps to 413 as well.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH")
        if declared and declared.isdigit() and int(declared) > settings.MAX_REQUEST_BYTES:
            return error_response(
                PayloadTooLarge(
                    "request body too large",
                    details={"limit_bytes": settings.MAX_REQUEST_BYTES,
                             "declared_bytes": int(declared)},
                )
            )
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response (Django 5.2 has no CSP
    of its own; SecurityMiddleware sets the others)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy",
                                    "camera=(), microphone=(), geolocation=(), payment=()")
        return response
