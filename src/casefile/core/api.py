"""The one NinjaAPI: every app's router is mounted here, and every error leaves in one shape."""

import logging
from typing import Any

import orjson
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import Http404, HttpRequest
from ninja import NinjaAPI, Router, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.renderers import BaseRenderer

from casefile import __version__
from casefile.accounts.auth import BearerToken
from casefile.core.errors import AppError, PayloadTooLarge
from casefile.core.http import json_error
from casefile.core.schemas import Schema

log = logging.getLogger(__name__)


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"

    def render(self, request, data, *, response_status):
        return orjson.dumps(data, default=str)


class ErrorDetail(Schema):
    code: str
    message: str
    details: Any = None


class ErrorOut(Schema):
    """The one error shape, `{"error": {"code", "message", "details"}}`."""

    error: ErrorDetail


# Every operation may answer these (auth, permission, lookup, conflict, size, validation,
# throttling): declared once here rather than on each route.
ERROR_STATUSES = {400: "Bad request", 401: "Not authenticated", 403: "Forbidden",
                  404: "Not found", 409: "Conflict (or an invalid transition)",
                  413: "Request body too large", 422: "Validation failed", 429: "Throttled"}


class CasefileAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(ErrorOut.model_json_schema(
            ref_template="#/components/schemas/{model}")["$defs"])
        components["ErrorOut"] = {k: v for k, v in ErrorOut.model_json_schema(
            ref_template="#/components/schemas/{model}").items() if k != "$defs"}
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
        for methods in schema["paths"].values():
            for operation in methods.values():
                responses = operation.setdefault("responses", {})
                for status, description in ERROR_STATUSES.items():
                    if status not in responses and str(status) not in responses:
                        responses[status] = {"description": description, "content": error}
        return schema


api = CasefileAPI(
    title="Casefile API",
    version="1",
    description="Cases, events, privileged operations and the audit ledger. "
    "Authenticate with `Authorization: Bearer <token>` (`casefile token create`).",
    auth=BearerToken(),
    renderer=ORJSONRenderer(),
    urls_namespace="api",
)


@api.exception_handler(AppError)
def _app_error(request: HttpRequest, exc: AppError):
    return json_error(exc.status, exc.code, exc.message, exc.details)


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError):
    return json_error(422, "validation_error", "the request is not valid", exc.errors)


@api.exception_handler(AuthenticationError)
def _authentication_error(request: HttpRequest, exc: AuthenticationError):
    return json_error(401, "not_authenticated",
                      "a valid API token is required (Authorization: Bearer <token>)")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError):
    return json_error(exc.status_code, "http_error", str(exc))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404):
    return json_error(404, "not_found", str(exc) or "not found")


@api.exception_handler(DjangoPermissionDenied)
def _forbidden(request: HttpRequest, exc: DjangoPermissionDenied):
    return json_error(403, "forbidden", str(exc) or "forbidden")


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig):
    err = PayloadTooLarge("request body too large")
    return json_error(err.status, err.code, err.message)


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return json_error(500, "internal_error", "an unexpected error occurred; it has been logged")


health_router = Router(tags=["health"])


class HealthOut(Schema):
    status: str
    version: str
    checks: dict[str, str]


@health_router.get("/health", auth=None, response={200: HealthOut, 503: HealthOut},
                   summary="Liveness and dependencies (no auth)")
def health(request: HttpRequest):
    from casefile.storage import get_store

    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - health reports, it does not raise
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        get_store().check()
        checks["object_store"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["object_store"] = f"error: {exc}"
    ok = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if ok else "degraded", "version": __version__, "checks": checks}
    return Status(200 if ok else 503, body)


def mount_routers() -> None:
    from casefile.accounts.api import router as accounts_router
    from casefile.audit.api import router as audit_router
    from casefile.cases.api import router as cases_router
    from casefile.documents.api import router as documents_router
    from casefile.events.api import otlp_router
    from casefile.events.api import router as events_router
    from casefile.events.issues_api import router as issues_router
    from casefile.evidence.api import router as evidence_router
    from casefile.holds.api import router as holds_router
    from casefile.platform.api import router as platform_router
    from casefile.trust.api import router as trust_router
    from casefile.trust.moderation_api import router as moderation_router
    from casefile.webhooks.api import router as webhooks_router

    api.add_router("", health_router)
    api.add_router("", accounts_router)
    api.add_router("/audit", audit_router)
    api.add_router("/events/issues", issues_router)  # before /events/{event_id} matches it
    api.add_router("/events", events_router)
    api.add_router("/otlp", otlp_router)
    api.add_router("/cases", cases_router)
    api.add_router("/platform", platform_router)
    api.add_router("/evidence", evidence_router)
    api.add_router("/holds", holds_router)
    api.add_router("/trust", trust_router)
    api.add_router("/moderation", moderation_router)
    api.add_router("/webhooks", webhooks_router)
    api.add_router("/documents", documents_router)


mount_routers()
