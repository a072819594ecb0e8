"""The design capability as a DRF permission, for views that work on no single object."""

from rest_framework.permissions import BasePermission

from clients.access import is_designer, require_designer  # noqa: F401 - the views' import


class IsDesigner(BasePermission):
    message = "Only designers may use the design API."

    def has_permission(self, request, view):
        return is_designer(request.user)
