from config.exceptions import PlatformError, ServiceUnavailable


class NotReady(ServiceUnavailable):
    """/readyz: a part the platform needs (database, migrations, broker) is not there."""

    default_message = "Not ready."


class MetricsNotAuthenticated(PlatformError):
    status_code = 401
    code = "NOT_AUTHENTICATED"
    default_message = "/metrics needs 'Authorization: Bearer <METRICS_TOKEN>'."


class MetricsForbidden(PlatformError):
    status_code = 403
    code = "PERMISSION_DENIED"
    default_message = "/metrics answers only loopback addresses while METRICS_TOKEN is unset."
