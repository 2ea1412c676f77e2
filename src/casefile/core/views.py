from django.http import HttpResponse
from django.shortcuts import render
from django.template import loader

from casefile.core.http import json_error


def forbidden(request, exception=None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_error(403, "forbidden", "not allowed")
    return render(request, "403.html", status=403)


def not_found(request, exception=None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_error(404, "not_found", f"no such endpoint: {request.method} {request.path}")
    return render(request, "404.html", status=404)


def server_error(request) -> HttpResponse:
    if request.path.startswith("/api/"):
        return json_error(500, "internal_error", "an unexpected error occurred")
    # No context processors: whatever broke may be what they need.
    return HttpResponse(loader.get_template("500.html").render(), status=500)
