"""Per-flow access: which flows a user may work on, and what it may do there.

A client works only on the flows granted to it; every object of another flow (the flow, its
machines, instances, event records, history, subscriptions) is invisible, exactly as if it
did not exist. Grants live only in the database and are checked inside the query that reads
the object, never cached: a grant made or revoked counts on the very next request.

Who sees what:
- `user=None` is the platform's own work (workers, timers, the sweeper, commands): every flow;
- a superuser: every flow;
- anyone else: the flows granted to them (FlowGrant.user) or to one of their groups
  (FlowGrant.group); a grant with no flow is every flow, those made later too.

Capabilities on top of visibility: a plain client uses the runtime API on its flows; a
designer (`is_designer`, or admin staff) the design API; an operator (`is_operator`, or a
designer) replays failed events and migrates instances.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet

from clients.exceptions import CapabilityMissing
from clients.models import ApiClient, FlowGrant

# The grant check of the PostgreSQL fast path, for a statement whose instance alias is `i`:
# the same rule as `visible` below, written once in SQL so that it joins the statement that
# already reads (and locks) the instance. Parameters: %(user_id)s (NULL: every flow).
GRANT_SQL = """(%(user_id)s::bigint IS NULL OR EXISTS (
  SELECT 1 FROM clients_flowgrant g
   WHERE (g.flow_id = i.flow_id OR g.flow_id IS NULL)
     AND (g.user_id = %(user_id)s
          OR g.group_id IN (SELECT ug.group_id FROM auth_user_groups ug
                             WHERE ug.user_id = %(user_id)s))))"""


def sees_every_flow(user) -> bool:
    """The platform itself and superusers; grants of every flow are decided in the query."""
    return user is None or user.is_superuser


def grant_user_id(user) -> int | None:
    """The user id GRANT_SQL checks; None for those who see every flow."""
    return None if sees_every_flow(user) else user.pk


def visible(queryset: QuerySet, user, *, flow: str = "flow") -> QuerySet:
    """The rows of `queryset` whose flow (the field path `flow`) `user` may see.

    Still one query: the check is an EXISTS in the same statement.
    """
    if sees_every_flow(user):
        return queryset
    grants = FlowGrant.objects.filter(
        Q(flow_id=OuterRef(flow)) | Q(flow__isnull=True),
        Q(user_id=user.pk) | Q(group__user=user.pk),
    )
    return queryset.filter(Exists(grants))


def _client(user) -> ApiClient | None:
    return getattr(user, "api_client", None) if user is not None else None


def is_designer(user) -> bool:
    """Designers may use the design API on their flows: --designer clients and admin staff."""
    if user is None:
        return True
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    client = _client(user)
    return bool(client and client.is_designer)


def is_operator(user) -> bool:
    """Operators replay failed events and migrate instances: --operator clients and designers."""
    if is_designer(user):
        return True
    client = _client(user)
    return bool(client and client.is_operator)


def require_designer(user) -> None:
    if not is_designer(user):
        raise CapabilityMissing("Only designers may use the design API.")


def require_operator(user) -> None:
    if not is_operator(user):
        raise CapabilityMissing("Only operators and designers of this flow may do this.")


def may_act_as(user, role: int | None) -> bool:
    """Whether `user` may fire an event as `role`: one of its own roles (designers: any)."""
    if role is None or is_designer(user):
        return True
    client = _client(user)
    return client is not None and role in client.role_codes


def flow_grant(*, flow, user) -> None:
    """Grant `flow` to `user` (the creator of a flow keeps seeing it); nothing for None."""
    if user is not None and user.pk is not None:
        FlowGrant.objects.get_or_create(flow=flow, user=user)
