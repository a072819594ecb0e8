"""Log records that carry the ids of their request, instance and event, as text or JSON lines.

A request's id comes from its X-Request-ID header, or is made up (RequestIdMiddleware); the
runtime names the instance and event it works on with `log_context(instance_id=...,
event_id=...)`. ContextFilter copies whatever is known onto each record, where the JSON
formatter (LOG_FORMAT=json) writes it as fields.
"""

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.signals import request_finished
from pythonjsonlogger.json import JsonFormatter

SWEEP_TASK = "runtime.sweep"
# A request id is copied into logs and the answer: a bounded token, nothing that could forge
# a log line or a header.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")

_ids: ContextVar[dict | None] = ContextVar("statecenter_log_ids", default=None)


@contextmanager
def log_context(**ids) -> Iterator[None]:
    """Name the request, instance or event that log records written inside belong to."""
    token = _ids.set({**(_ids.get() or {}), **{k: v for k, v in ids.items() if v is not None}})
    try:
        yield
    finally:
        _ids.reset(token)


class ContextFilter(logging.Filter):
    """Copy the known ids (log_context) onto every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_ids.get() or {}).items():
            setattr(record, name, value)
        return True


class QuietSweepFilter(logging.Filter):
    """Celery's INFO lines about the sweeper's routine runs become DEBUG.

    Beat sends runtime.sweep every few seconds; the worker would log each message received and
    each run that succeeded, and beat each one sent. A sweep that did something is logged by
    the sweeper itself.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not _names_sweep(record.args):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def _names_sweep(args) -> bool:
    if isinstance(args, dict):  # "Task %(name)s[%(id)s] received", "... succeeded in ..."
        return args.get("name") == SWEEP_TASK
    return isinstance(args, tuple) and SWEEP_TASK in args  # "Sending due task %s (%s)"


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, logger, message, the ids and any extra fields."""
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",  # ISO 8601, UTC
    )


_context_filter = ContextFilter()


def celery_handlers_setup(logger: logging.Logger, **kwargs) -> None:
    """Celery's after_setup_logger: the worker and beat replace the root logger's handlers
    with their own; give those the ids and, with LOG_FORMAT=json, the JSON format."""
    from django.conf import settings

    for handler in logger.handlers:
        handler.addFilter(_context_filter)
        if settings.LOG_FORMAT == "json":
            handler.setFormatter(json_formatter())


def _request_id(request) -> str:
    given = request.headers.get("X-Request-ID", "")
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Give each request an id (its X-Request-ID, or a new one) for its log records and answer.

    The id stays set until the request finishes, not just while the middleware runs: Django
    logs a 4xx or 5xx answer (django.request) after the middleware chain returns, and
    gunicorn writes its access line later still.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        request_finished.connect(_request_finished, dispatch_uid="statecenter_request_id")

    def __call__(self, request):
        request_id = _request_id(request)
        _ids.set({"request_id": request_id})
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def _request_finished(**kwargs) -> None:
    _ids.set(None)
