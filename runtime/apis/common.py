"""What the business API's views share: context, role and id fields, acting role, validation."""

import copy
import re

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.utils import OpenApiCallback, extend_schema, extend_schema_field
from rest_framework import serializers

from clients.access import may_act_as
from config.exceptions import ValidationError
from machines.interchange import ID_MAX, json_problem
from runtime.exceptions import RoleForbidden
from runtime.models import ROLE_MAX, ROLE_MIN

MAX_KEY = 200
MAX_CONTEXT_DEPTH = 32


def _json_object(value):
    if not isinstance(value, dict):
        raise serializers.ValidationError("Must be a JSON object.")
    _check_storable(value)
    return value


def _check_storable(value) -> None:
    """Refuse what the database or the JSON encoder cannot take, before it is a 500."""
    problem = json_problem(value, max_depth=MAX_CONTEXT_DEPTH)
    if problem is not None:
        raise serializers.ValidationError(problem)


@extend_schema_field({"type": "object", "additionalProperties": {}})
class ContextField(serializers.JSONField):
    def __init__(self, **kwargs):
        super().__init__(required=False, default=dict, validators=[_json_object], **kwargs)


class RoleField(serializers.IntegerField):
    """A role code, bounded by the integer column that keeps it on the event record."""

    def __init__(self, **kwargs):
        kwargs = {"required": False, "allow_null": True, "default": None, **kwargs}
        super().__init__(min_value=ROLE_MIN, max_value=ROLE_MAX, **kwargs)


class IdField(serializers.IntegerField):
    """The id of a row: a positive 64-bit integer, as the primary keys are."""

    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=ID_MAX, **kwargs)


class FlatInputSerializer(serializers.Serializer):
    """An input of plain fields (no nested serializer, no list or dict of fields), whose fields
    are copied shallowly for each request.

    DRF deep-copies every declared field for each serializer it makes, running each field's
    __init__ again: half of what validating an event's body cost (`make bench`). A plain
    field keeps nothing of a request but what bind() sets on it, and that lands on the copy.
    """

    def get_fields(self):
        fields = {}
        for name, field in self._declared_fields.items():
            if isinstance(field, serializers.BaseSerializer) or hasattr(field, "child"):
                raise TypeError(f"{name} is not a plain field: use serializers.Serializer")
            fields[name] = copy.copy(field)
        return fields


def acting_role(request, role: int | None) -> int | None:
    """The role the request acts as; a client may only claim one of its own roles."""
    if not may_act_as(request.user, role):
        raise RoleForbidden(f"This client may not act as role {role}.", {"role": role})
    return role


def valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def query_int(request, name: str, *, low: int = ROLE_MIN, high: int = ROLE_MAX) -> int | None:
    """An integer query parameter (ASCII digits, within [low, high]), or None when absent."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    # re, not int(): int() takes " 7", "1_000" and other scripts' digits; ten digits at most
    # keep a huge number from being converted at all.
    if not re.fullmatch(r"-?[0-9]{1,10}", raw) or not low <= int(raw) <= high:
        message = f"An integer from {low} to {high}."
        raise ValidationError(
            f"{name}: {message}", {"problems": [{"path": name, "message": message}]}
        )
    return int(raw)


def webhook(name: str, url: str, body, *, summary: str, description: str) -> OpenApiCallback:
    """An OpenAPI callback: a POST of `body` that the platform sends to `url` (a runtime
    expression such as {$request.body#/url}).

    The receiving end is described with drf-spectacular's plain AutoSchema: the project's own
    (config/schema.py) lists our error answers, which a receiver never sends.
    """

    def receiver(view):
        view.schema = BaseAutoSchema()
        return extend_schema(
            summary=summary, description=description, request=body, responses={200: None}
        )(view)

    return OpenApiCallback(name, url, receiver)
