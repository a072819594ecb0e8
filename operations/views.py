"""/healthz, /readyz and /metrics: plain Django views, outside the API (no token, no
throttle, not in its schema), served by ProbeMiddleware before anything else runs."""

import hmac
import ipaddress
import logging
import os

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpResponse, JsonResponse
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from config.exceptions import PlatformError, error_response
from operations import readiness
from operations.collectors import DatabaseCollector
from operations.exceptions import MetricsForbidden, MetricsNotAuthenticated, NotReady

logger = logging.getLogger(__name__)
_was_ready: bool | None = None  # this process's last answer, to log changes only


def _error(exc: PlatformError) -> HttpResponse:
    response = error_response(exc.status_code, exc.code, exc.message, exc.details)
    if getattr(exc, "retry_after", None):
        response["Retry-After"] = str(exc.retry_after)
    # The probes' refusals are answers, not server errors: Django would log each as one.
    response._has_been_logged = True
    return response


def healthz(request) -> HttpResponse:
    """The process lives and answers; touches nothing else."""
    return JsonResponse({"status": "ok"})


def readyz(request) -> HttpResponse:
    """200 when the database answers, no migration is pending and the broker is reachable."""
    global _was_ready
    problems = readiness.problems()
    if problems and _was_ready is not False:
        logger.warning("not ready: %s", "; ".join(f"{k}: {v}" for k, v in problems.items()))
    elif not problems and _was_ready is False:
        logger.info("ready again")
    _was_ready = not problems
    if not problems:
        return JsonResponse({"status": "ok"})
    message = f"Not ready: {', '.join(problems)}."
    return _error(NotReady(message, {"failing": list(problems), "problems": problems}))


def metrics(request) -> HttpResponse:
    """Prometheus exposition: the processes' counters and histograms, the database gauges."""
    refusal = _metrics_refusal(request)
    if refusal is not None:
        return _error(refusal)
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(_Scrape(_process_metrics(), DatabaseCollector())),
                        content_type=content_type)  # fmt: skip


def _metrics_refusal(request) -> PlatformError | None:
    """With METRICS_TOKEN, the bearer token; without, loopback only (the socket's address)."""
    if settings.METRICS_TOKEN:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        given, expected = token.strip().encode(), settings.METRICS_TOKEN.encode()
        if scheme.lower() == "bearer" and hmac.compare_digest(given, expected):
            return None
        return MetricsNotAuthenticated()
    if not _loopback(request.META.get("REMOTE_ADDR", "")):
        return MetricsForbidden()
    try:  # a page on another site must not reach it through DNS rebinding
        request.get_host()
    except DisallowedHost:
        return MetricsForbidden(
            "/metrics: the Host header names a host this server does not serve."
        )
    return None


def _loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _process_metrics():
    """Every process's values summed from the multiprocess folder, or this process's own."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=folder)
    return registry


class _Scrape:
    """The collectors of one scrape, as a registry for the encoder."""

    def __init__(self, *collectors):
        self.collectors = collectors

    def collect(self):
        for collector in self.collectors:
            yield from collector.collect()
