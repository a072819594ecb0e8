from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from clients.models import ROLE_LIST, ApiClient, FlowGrant
from clients.selectors import forget_tokens
from machines.models import Flow


@transaction.atomic
def api_client_create(
    *,
    name: str,
    roles: str = "",
    designer: bool = False,
    operator: bool = False,
    flows: list[str] | None = None,
    all_flows: bool = False,
) -> tuple[ApiClient, str]:
    """Create (or update) the client NAME and return it with its API token.

    `flows` (codes) replaces the client's grants; `all_flows` replaces them with one grant of
    every flow, later ones included; with neither, the client keeps its grants (a new client
    has none). Grants are read from the database on every request, so a change counts at
    once in every process.
    """
    roles = roles.replace(" ", "")
    if roles:
        ROLE_LIST(roles)
    granted = [None] if all_flows else _flows(flows) if flows is not None else None
    user, _ = get_user_model().objects.get_or_create(username=name)
    client, _ = ApiClient.objects.update_or_create(
        user=user, defaults={"roles": roles, "is_designer": designer, "is_operator": operator}
    )
    if granted is not None:
        FlowGrant.objects.filter(user=user).delete()
        FlowGrant.objects.bulk_create([FlowGrant(user=user, flow=flow) for flow in granted])
    token, _ = Token.objects.get_or_create(user=user)
    forget_tokens()  # this process sees the new roles at once; others within TOKEN_TTL_SECONDS
    return client, token.key


def _flows(codes: list[str]) -> list[Flow]:
    codes = sorted({code.strip() for code in codes if code.strip()})
    found = list(Flow.objects.filter(code__in=codes))
    unknown = sorted(set(codes) - {flow.code for flow in found})
    if unknown:
        raise ValidationError(f"Unknown flow code(s): {', '.join(unknown)}.")
    return found


def api_client_grants(*, client: ApiClient) -> list[str]:
    """The codes of the flows granted to the client itself ("*" for every flow)."""
    grants = FlowGrant.objects.filter(user=client.user_id).select_related("flow")
    return sorted(grant.flow.code if grant.flow else "*" for grant in grants)
