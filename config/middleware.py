"""What runs around the API's requests: the check of every path and query string before any
view sees them, and the admin's middleware, which the business API skips."""

from django.utils.module_loading import import_string

from config.exceptions import error_response, is_api
from machines.interchange import storable_text

# Characters: no query parameter of the API is longer (the longest string it takes is a URL).
MAX_QUERY_VALUE = 2000


class ApiInputMiddleware:
    """400 VALIDATION_ERROR for an /api/ request whose path or query the database cannot take.

    PostgreSQL refuses NUL in text and no UTF-8 encoder takes a lone surrogate: either one in a
    query parameter would reach a query as a 500. Checked once here, for every parameter,
    rather than in each view that reads one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_api(request):
            problem = _path_problem(request.path) or _query_problem(request)
            if problem is not None:
                details = {"problems": [problem]}
                return error_response(400, "VALIDATION_ERROR", problem["message"], details)
        return self.get_response(request)


def _path_problem(path: str) -> dict | None:
    if storable_text(path):
        return None
    return {"path": "", "message": "The URL path holds NUL or a lone surrogate character."}


def _query_problem(request) -> dict | None:
    if not request.META.get("QUERY_STRING"):
        return None
    # Parsing may raise TooManyFieldsSent, which Django answers through handler400.
    for name, values in request.GET.lists():
        if not storable_text(name):
            return {"path": "", "message": "A query parameter name holds NUL or a lone surrogate."}
        for value in values:
            if not storable_text(value):
                return {"path": name, "message": f"{name} holds NUL or a lone surrogate."}
            if len(value) > MAX_QUERY_VALUE:
                message = f"{name} is longer than {MAX_QUERY_VALUE} characters."
                return {"path": name, "message": message}
    return None


API_V1 = "/api/v1/"


def pages_only(dotted_path: str) -> type:
    """The middleware at `dotted_path`, for every request but the business API's (/api/v1/).

    The API answers JSON in English to clients with tokens: the browser's language and the
    admin's flash messages have nothing to do there, and each costs time on every event
    (`make bench`). (The frame header stays: Django's deploy check looks for its middleware
    by name, and it costs next to nothing.) Only middleware that works in __call__
    can be skipped this way: one with process_view or process_exception would still be
    called by Django's handler.
    """
    middleware = import_string(dotted_path)
    hooks = ("process_view", "process_exception", "process_template_response")
    if any(hasattr(middleware, hook) for hook in hooks):
        raise TypeError(f"{dotted_path} has view hooks and cannot skip the API")

    class PagesOnly(middleware):  # a subclass: the admin's checks look for one
        def __call__(self, request):
            if request.path.startswith(API_V1):
                return self.get_response(request)
            return super().__call__(request)

    PagesOnly.__name__ = PagesOnly.__qualname__ = f"PagesOnly{middleware.__name__}"
    return PagesOnly


LocaleForPages = pages_only("django.middleware.locale.LocaleMiddleware")
MessagesForPages = pages_only("django.contrib.messages.middleware.MessageMiddleware")
