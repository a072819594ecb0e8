from rest_framework.authtoken.models import Token

TOKEN_LENGTH = 40  # DRF's tokens: 40 hexadecimal characters


def token_shaped(key) -> bool:
    """Whether `key` could be a token at all; anything else never reaches the database."""
    return isinstance(key, str) and 0 < len(key) <= TOKEN_LENGTH and key.isascii() and key.isalnum()


def token_user(key) -> object | None:
    """The active user behind an API token (with its client loaded), or None."""
    if not token_shaped(key):
        return None
    token = Token.objects.select_related("user", "user__api_client").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user
