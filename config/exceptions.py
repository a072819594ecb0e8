"""One error hierarchy for the platform and the one DRF handler that renders it.

Every error the API returns has the shape {"code", "message", "details"} with the codes of
docs/errors.md. Apps subclass PlatformError in their own exceptions.py.
"""

import logging

from django.core.exceptions import (
    DisallowedHost,
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from django.views import csrf, defaults
from rest_framework import exceptions as drf
from rest_framework.authentication import get_authorization_header
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from rules import RuleError

logger = logging.getLogger(__name__)


class PlatformError(Exception):
    status_code = 400
    code = "VALIDATION_ERROR"
    default_message = "The request is not valid."

    def __init__(self, message: str | None = None, details: dict | None = None):
        self.message = message or self.default_message
        self.details = details or {}
        super().__init__(self.message)


class ValidationError(PlatformError):
    """A bad request body, or a machine that fails validation."""


class InstanceBusy(PlatformError):
    """Waited too long for an instance's lock: another event holds it. Retry shortly."""

    status_code = 409
    code = "INSTANCE_BUSY"
    default_message = "The instance is busy with another event; retry shortly."
    retry_after = 1


class ServiceUnavailable(PlatformError):
    """The database cannot be reached right now; the request changed nothing."""

    status_code = 503
    code = "SERVICE_UNAVAILABLE"
    default_message = "The database is unavailable; retry shortly."
    retry_after = 5


class NotFound(PlatformError):
    status_code = 404
    code = "NOT_FOUND"
    default_message = "Not found."


def flatten_errors(detail, path: str = "") -> list[dict]:
    """Turn DRF's nested error structure into [{"path": "smStates[2].stateValue", "message"}]."""
    if isinstance(detail, dict):
        problems = []
        for key, value in detail.items():
            if key == "non_field_errors":
                sub = path
            elif isinstance(key, int):
                sub = f"{path}[{key}]"
            else:
                sub = f"{path}.{key}" if path else str(key)
            problems += flatten_errors(value, sub)
        return problems
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [{"path": path, "message": str(item)} for item in detail]
        problems = []
        for index, item in enumerate(detail):
            if item:
                problems += flatten_errors(item, f"{path}[{index}]")
        return problems
    return [{"path": path, "message": str(detail)}]


def _body(code: str, message: str, details: dict | None = None) -> dict:
    return {"code": code, "message": message, "details": details or {}}


# A client that sends an OAuth-style Bearer token is told which scheme the API takes, instead
# of DRF's "credentials were not provided" (only /metrics takes Bearer, outside DRF).
BEARER_REFUSED = (
    "Use `Authorization: Token <key>`; the Bearer scheme is not accepted for API tokens."
)


def _sent_bearer(request) -> bool:
    """Whether the request's Authorization header uses the Bearer scheme (in any case)."""
    parts = get_authorization_header(request).split() if request is not None else []
    return bool(parts) and parts[0].lower() == b"bearer"


def _drf_error_body(exc: drf.APIException, request=None) -> dict:
    if isinstance(exc, drf.ValidationError | drf.ParseError):
        problems = flatten_errors(exc.detail) if isinstance(exc, drf.ValidationError) else []
        message = "; ".join(
            f"{p['path']}: {p['message']}" if p["path"] else p["message"] for p in problems[:5]
        )
        return _body("VALIDATION_ERROR", message or str(exc.detail), {"problems": problems})
    if isinstance(exc, drf.NotFound):
        return _body("NOT_FOUND", str(exc.detail))
    if isinstance(exc, drf.NotAuthenticated) and _sent_bearer(request):
        return _body("NOT_AUTHENTICATED", BEARER_REFUSED, {"scheme": "Bearer", "expected": "Token"})
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return _body("NOT_AUTHENTICATED", str(exc.detail))
    if isinstance(exc, drf.PermissionDenied):
        return _body("PERMISSION_DENIED", str(exc.detail))
    if isinstance(exc, drf.MethodNotAllowed):
        return _body("METHOD_NOT_ALLOWED", str(exc.detail))
    if isinstance(exc, drf.UnsupportedMediaType | drf.NotAcceptable):
        return _body("VALIDATION_ERROR", str(exc.detail))
    if isinstance(exc, drf.Throttled):
        return _body("THROTTLED", str(exc.detail))
    return _body("ERROR", str(exc.detail))


def _database_error(exc: DatabaseError) -> PlatformError | None:
    """A lock timeout is INSTANCE_BUSY; a lost or refused connection is SERVICE_UNAVAILABLE."""
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate == "55P03" or "database is locked" in str(exc):  # lock_not_available
        return InstanceBusy()
    if isinstance(exc, InterfaceError | OperationalError):
        logger.warning("database unavailable: %s", exc)
        return ServiceUnavailable()
    return None


def api_exception_handler(exc, context):
    """Render every known error as {"code", "message", "details"}; unknown ones stay 500s."""
    if isinstance(exc, DatabaseError):
        exc = _database_error(exc) or exc
    if isinstance(exc, RequestDataTooBig):
        exc = ValidationError("The request body is too large.")
    if isinstance(exc, RecursionError):  # the JSON parser on a body nested ~1000 levels deep
        exc = ValidationError("The request body is nested too deeply.")
    if isinstance(exc, PlatformError):
        response = Response(_body(exc.code, exc.message, exc.details), status=exc.status_code)
        if getattr(exc, "retry_after", None):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, RuleError):
        return Response(_body(exc.code, exc.message, exc.details), status=422)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django logs it and answers 500
    response.data = _drf_error_body(exc, context.get("request"))
    return response


def is_api(request) -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, code: str, message: str, details: dict | None = None):
    """An error in the API's format, for answers made outside DRF's views."""
    return JsonResponse(_body(code, message, details), status=status)


def not_found(request, exception):
    """Django's 404 for a URL no route matches: the error format under /api/, a page elsewhere."""
    if not is_api(request):
        return defaults.page_not_found(request, exception)
    return error_response(404, "NOT_FOUND", f"No API route for {request.path}.")


# What a client is told for each SuspiciousOperation Django turns into a 400; the exception's
# own text stays in the log, as Django's page keeps it out of the answer too.
_BAD_REQUEST_MESSAGES = {
    DisallowedHost: "The Host header names a host this server does not serve.",
    TooManyFieldsSent: "Too many query or form fields.",
    TooManyFilesSent: "Too many files.",
    RequestDataTooBig: "The request body is too large.",
}


def bad_request(request, exception):
    """Django's 400 (bad Host header, SuspiciousOperation): JSON under /api/, a page elsewhere."""
    if not is_api(request):
        return defaults.bad_request(request, exception)
    message = next(
        (text for kind, text in _BAD_REQUEST_MESSAGES.items() if isinstance(exception, kind)),
        "The request is malformed.",
    )
    return error_response(400, "VALIDATION_ERROR", message)


def permission_denied(request, exception):
    """Django's 403 outside DRF's views: the error format under /api/, a page elsewhere."""
    if not is_api(request):
        return defaults.permission_denied(request, exception)
    return error_response(403, "PERMISSION_DENIED", "You do not have permission to do this.")


def csrf_failure(request, reason=""):
    """A request the CSRF check refused: the error format under /api/, Django's page elsewhere."""
    if not is_api(request):
        return csrf.csrf_failure(request, reason)
    return error_response(403, "PERMISSION_DENIED", f"CSRF verification failed: {reason}")


def server_error(request):
    """Django's 500 for an unexpected error (already logged): JSON under /api/, a page elsewhere."""
    if not is_api(request):
        return defaults.server_error(request)
    return error_response(500, "SERVER_ERROR", "An unexpected error; it was logged.")
