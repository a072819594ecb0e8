# gunicorn settings: `gunicorn -c platform/gunicorn.conf.py config.wsgi`
import os

from gunicorn.glogging import Logger

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
accesslog = "-"
# gunicorn's control socket is one path per user by default: two servers would share it.
control_socket_disable = True


class QuietProbesLogger(Logger):
    """No access line for the probes and successful scrapes, polled every few seconds;
    /readyz logs its own changes (operations/views.py)."""

    def access(self, resp, req, environ, request_time):
        path = environ.get("PATH_INFO", "").rstrip("/")
        if path in ("/healthz", "/readyz") or (path == "/metrics" and resp.status_code == 200):
            return
        super().access(resp, req, environ, request_time)


logger_class = QuietProbesLogger

if os.environ.get("LOG_FORMAT") == "json":  # gunicorn's own lines as JSON too, with the ids
    _handler = {"class": "logging.StreamHandler", "formatter": "json", "filters": ["ids"]}
    logconfig_dict = {
        "filters": {"ids": {"()": "config.logs.ContextFilter"}},
        "formatters": {"json": {"()": "config.logs.json_formatter"}},
        "handlers": {
            "console": {**_handler, "stream": "ext://sys.stdout"},
            "error_console": {**_handler, "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
    }


def child_exit(server, worker):
    """A web worker exited: its live gauges leave the shared metrics folder."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from config.metrics import mark_process_dead

        mark_process_dead(worker.pid)
