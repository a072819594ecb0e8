"""OpenAPI naming: serializers nested in an API view are named after the view."""

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema


class AutoSchema(BaseAutoSchema):
    def get_serializer_name(self, serializer, direction):
        """FlowListCreateApi.InputSerializer -> FlowListCreateInput, so names never collide."""
        name = super().get_serializer_name(serializer, direction)
        owner, _, _ = type(serializer).__qualname__.partition(".")
        if owner.endswith("Api") and owner != type(serializer).__qualname__:
            return owner.removesuffix("Api") + name
        return name
