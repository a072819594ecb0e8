"""Answers the probes and /metrics first in the middleware chain.

Before SecurityMiddleware and the host check: an orchestrator probes a container by its
address over plain HTTP, which ALLOWED_HOSTS and an HTTPS redirect would refuse or redirect
(and a redirect counts as healthy to most probes). Nothing else runs for these paths:
no session, no locale, no throttle. /metrics checks the host itself where it matters.
"""

from django.http import HttpResponse

from config.exceptions import error_response
from operations import views

ROUTES = {"/healthz": views.healthz, "/readyz": views.readyz, "/metrics": views.metrics}


class ProbeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request) -> HttpResponse:
        view = ROUTES.get(request.path_info.rstrip("/") or "/")
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = error_response(405, "METHOD_NOT_ALLOWED", f"{request.method} not allowed.")
            response["Allow"] = "GET, HEAD"
            return response
        return view(request)
