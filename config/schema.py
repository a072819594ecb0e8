"""OpenAPI generation: view-named serializers and the error answers of every operation."""

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema
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
    "STATE_CONFLICT, IDEMPOTENCY_MISMATCH, or INSTANCE_BUSY (see Retry-After).",
    "415": "VALIDATION_ERROR: the body is not JSON (application/json).",
    "422": "EXPRESSION_ERROR: an expression raised while evaluating; details say which, why.",
    "502": "ACTION_FAILED: a transition action's callback failed; nothing changed.",
}


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class AutoSchema(BaseAutoSchema):
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
