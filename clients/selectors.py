from rest_framework.authtoken.models import Token


def token_user(key) -> object | None:
    """The active user behind an API token (with its client loaded), or None."""
    if not isinstance(key, str) or not key or len(key) > 40:
        return None
    token = Token.objects.select_related("user", "user__api_client").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user
