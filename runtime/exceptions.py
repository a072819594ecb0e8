"""The runtime's errors, one per API error code (docs/errors.md)."""

from config.exceptions import PlatformError


class NoOnlineVersion(PlatformError):
    status_code = 409
    code = "NO_ONLINE_VERSION"
    default_message = "The flow has no online version."


class DuplicateBusinessKey(PlatformError):
    status_code = 409
    code = "DUPLICATE_BUSINESS_KEY"
    default_message = "That business key is already used in this flow."


class NoTransition(PlatformError):
    status_code = 409
    code = "NO_TRANSITION"
    default_message = "No transition for this event from the current state."


class RoleForbidden(PlatformError):
    status_code = 403
    code = "ROLE_FORBIDDEN"
    default_message = "This role may not fire that event."


class GuardRejected(PlatformError):
    status_code = 409
    code = "GUARD_REJECTED"
    default_message = "The transition's guard is false."


class NoDefaultBranch(PlatformError):
    status_code = 409
    code = "NO_DEFAULT_BRANCH"
    default_message = "No case of the choice state is true and it has no default."


class RoutingLoop(PlatformError):
    status_code = 409
    code = "ROUTING_LOOP"
    default_message = "More than 32 automatic hops."


class StateConflict(PlatformError):
    status_code = 409
    code = "STATE_CONFLICT"
    default_message = "The instance is not in the expected state."


class IdempotencyMismatch(PlatformError):
    status_code = 409
    code = "IDEMPOTENCY_MISMATCH"
    default_message = "This requestId was used with a different body."


class ActionFailed(PlatformError):
    status_code = 502
    code = "ACTION_FAILED"
    default_message = "A transition action failed."
    hop = None  # the engine's Hop whose action failed: its transition may name an errorTarget
