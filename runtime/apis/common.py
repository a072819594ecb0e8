"""What the business API's views share: the context field, the acting role, validation."""

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from clients.permissions import is_designer
from config.exceptions import ValidationError
from runtime.exceptions import RoleForbidden

OUTCOME = inline_serializer("EventOutcome", {"eventId": serializers.IntegerField()})
ACCEPTED = inline_serializer(
    "EventAccepted", {"eventId": serializers.IntegerField(), "status": serializers.CharField()}
)
MAX_KEY = 200
MAX_CONTEXT_DEPTH = 32


def _json_object(value):
    if not isinstance(value, dict):
        raise serializers.ValidationError("Must be a JSON object.")
    _check_storable(value)
    return value


def _check_storable(value) -> None:
    """Refuse what the database or the JSON encoder cannot take, before it is a 500.

    PostgreSQL's jsonb refuses NUL characters, no UTF-8 encoder takes a lone surrogate, and
    encoding a deeply nested value runs out of stack. Iterative, so depth cannot hurt here.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_CONTEXT_DEPTH:
            raise serializers.ValidationError(f"Nested deeper than {MAX_CONTEXT_DEPTH} levels.")
        if isinstance(item, dict):
            stack += [(key, depth) for key in item] + [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item]
        elif isinstance(item, str) and ("\x00" in item or not _encodable(item)):
            raise serializers.ValidationError("Text may not hold NUL or lone surrogate characters.")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ContextField(serializers.JSONField):
    def __init__(self, **kwargs):
        super().__init__(required=False, default=dict, validators=[_json_object], **kwargs)


def acting_role(request, role: int | None) -> int | None:
    """The role the request acts as; a client may only claim one of its own roles."""
    if role is None or is_designer(request.user):
        return role
    client = getattr(request.user, "api_client", None)
    if client is None or role not in client.role_codes:
        raise RoleForbidden(f"This client may not act as role {role}.", {"role": role})
    return role


def valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def query_int(request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(
            f"{name} must be an integer.",
            {"problems": [{"path": name, "message": "Not an integer."}]},
        ) from None
