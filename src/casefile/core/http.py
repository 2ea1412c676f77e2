"""The one JSON error shape: `{"error": {"code": …, "message": …, "details": …}}`."""

from typing import Any

import orjson
from django.http import HttpResponse

from casefile.core.errors import AppError


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(exc: AppError) -> HttpResponse:
    return json_error(exc.status, exc.code, exc.message, exc.details)


def json_error(status: int, code: str, message: str, details: Any = None) -> HttpResponse:
    return HttpResponse(
        orjson.dumps(error_body(code, message, details), default=str),
        status=status,
        content_type="application/json",
    )
