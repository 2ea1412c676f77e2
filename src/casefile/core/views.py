from django.http import HttpResponse, HttpResponseNotFound, HttpResponseServerError

from casefile.core.http import json_error


def not_found(request, exception=None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_error(404, "not_found", f"no such endpoint: {request.method} {request.path}")
    return HttpResponseNotFound("<h1>Not found</h1>")


def server_error(request) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_error(500, "internal_error", "an unexpected error occurred")
    return HttpResponseServerError("<h1>Server error</h1>")
