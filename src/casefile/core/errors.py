"""One exception hierarchy for the whole application, mapped to HTTP in one place (`core.api`).

Services raise these; the API layer turns each into `{"error": {"code", "message", "details"}}`
with the status named here, and the CLI prints the message.
"""

from typing import Any


class AppError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: Any = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code


class NotAuthenticated(AppError):
    status = 401
    code = "not_authenticated"


class PermissionDenied(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"


class UriTooLong(AppError):
    status = 414
    code = "uri_too_long"


class LengthRequired(AppError):
    """A body of unknown length on a server that cannot tell where it ends."""

    status = 411
    code = "length_required"


class ValidationFailed(AppError):
    status = 422
    code = "validation_error"


class Throttled(AppError):
    status = 429
    code = "throttled"


class ServiceUnavailable(AppError):
    status = 503
    code = "unavailable"
