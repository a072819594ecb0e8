"""OpenAPI generation: view-named serializers and operations, named enum values, the error
answers of every operation."""

import re

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
from drf_spectacular.plumbing import deep_import_string
from drf_spectacular.settings import spectacular_settings
from rest_framework import serializers

# The error answers, all {"code", "message", "details"}. Every
# operation may answer the first group; an operation that changes something also the second.
ANY_OPERATION = {
    "400": "VALIDATION_ERROR: a bad body, query or machine; details.problems lists each.",
    "401": "NOT_AUTHENTICATED: no token, or an unknown one (send `Authorization: Token <key>`; "
    "a Bearer token is refused with a message that says so).",
    "403": "PERMISSION_DENIED (the client lacks the designer or operator capability on the "
    "flow) or ROLE_FORBIDDEN.",
    "404": "NOT_FOUND: an unknown flow, machine, instance, event record or subscription, or "
    "one of a flow not granted to the client (the same answer).",
    "429": "THROTTLED: too many requests from this client, or too many failed "
    "authentications from this address; see Retry-After.",
    "503": "SERVICE_UNAVAILABLE: the database cannot be reached; nothing changed.",
}
CHANGES = {
    "409": "A conflict: MACHINE_FROZEN, LIFECYCLE_ERROR, NO_ONLINE_VERSION, "
    "DUPLICATE_BUSINESS_KEY, NO_TRANSITION, GUARD_REJECTED, NO_DEFAULT_BRANCH, ROUTING_LOOP, "
    "STATE_CONFLICT, IDEMPOTENCY_MISMATCH, SCENARIO_FAILED (publishing a version whose saved "
    "scenarios fail), or INSTANCE_BUSY (see Retry-After).",
    "415": "VALIDATION_ERROR: the body is not JSON (application/json).",
    "422": "EXPRESSION_ERROR: an expression raised while evaluating; details say which, why.",
    "502": "ACTION_FAILED: a transition action's callback failed; nothing changed.",
}


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class AutoSchema(BaseAutoSchema):
    def get_operation_id(self):
        """InstanceEventFireApi.post -> instance_event_fire; the ListCreate and Detail views
        name their methods: flow_list and flow_create, machine_get, machine_replace and
        machine_delete. A generated client's functions carry these names."""
        view = type(self.view)
        step = getattr(self.view, "step", None)
        name = _snake(view.__name__.removesuffix("Api"))
        if step:  # one view class, one route per lifecycle step
            return name.replace("lifecycle", step)
        verbs = {
            "_list_create": {"GET": "_list", "POST": "_create"},
            "_detail": {"GET": "_get", "PUT": "_replace", "DELETE": "_delete"},
        }
        for suffix, by_method in verbs.items():
            if name.endswith(suffix):
                return name.removesuffix(suffix) + by_method[self.method]
        return name

    def get_serializer_name(self, serializer, direction):
        """FlowListCreateApi.InputSerializer -> FlowListCreateInput, so names never collide."""
        if isinstance(serializer, ErrorSerializer):
            return "Error"
        name = super().get_serializer_name(serializer, direction)
        owner, _, _ = type(serializer).__qualname__.partition(".")
        if owner.endswith("Api") and owner != type(serializer).__qualname__:
            return owner.removesuffix("Api") + name
        return name

    def is_excluded(self):
        """A slashless path is the alias of a slash-ended route (config/routes.py): not listed."""
        return not self.path.endswith("/") or super().is_excluded()

    # drf-spectacular's own hook for an operation's responses (private, but the one place that
    # sees every operation; drf-standardized-errors extends the same one).
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = ANY_OPERATION if self.method in ("GET", "HEAD") else ANY_OPERATION | CHANGES
        for status, description in errors.items():
            if status not in responses:
                response = self._get_response_for_code(
                    ErrorSerializer(), status, ["application/json"], direction
                )
                responses[status] = {**response, "description": description}
        return responses


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def name_enum_values(result, generator, request, public):
    """x-enum-varnames for the named enums, so generated clients say TESTING, not VALUE_1.

    A postprocessing hook (SPECTACULAR_SETTINGS); the names are the choices' labels.
    """
    schemas = result.get("components", {}).get("schemas", {})
    for name, choices in spectacular_settings.ENUM_NAME_OVERRIDES.items():
        component = schemas.get(name)
        if component is None:
            continue
        if isinstance(choices, str):
            choices = deep_import_string(choices)
        choices = getattr(choices, "choices", choices)  # a Django choices class
        labels = dict(c if isinstance(c, list | tuple) else (c, c) for c in choices)
        component["x-enum-varnames"] = [
            re.sub(r"\W+", "_", str(labels[value])).upper() for value in component["enum"]
        ]
    return result
