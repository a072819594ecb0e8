from config.exceptions import PlatformError


class CapabilityMissing(PlatformError):
    """The object is visible to the client, but the capability (design, operate) is not."""

    status_code = 403
    code = "PERMISSION_DENIED"
    default_message = "This client may not do that on this flow."


class NotAuthenticated(PlatformError):
    """No valid client token (the broker's payload; REST answers through DRF's own)."""

    status_code = 401
    code = "NOT_AUTHENTICATED"
    default_message = "A valid client token is required."
