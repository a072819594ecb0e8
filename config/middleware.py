"""Checks every API request's path and query string before any view sees them."""

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
