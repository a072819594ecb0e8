from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from clients.authentication import forget_tokens
from clients.models import ROLE_LIST, ApiClient


@transaction.atomic
def api_client_create(
    *, name: str, roles: str = "", designer: bool = False
) -> tuple[ApiClient, str]:
    """Create (or update) the client NAME and return it with its API token."""
    roles = roles.replace(" ", "")
    if roles:
        ROLE_LIST(roles)
    user, _ = get_user_model().objects.get_or_create(username=name)
    client, _ = ApiClient.objects.update_or_create(
        user=user, defaults={"roles": roles, "is_designer": designer}
    )
    token, _ = Token.objects.get_or_create(user=user)
    forget_tokens()  # this process sees the new roles at once; others within TOKEN_TTL_SECONDS
    return client, token.key
