from rest_framework.permissions import BasePermission


def is_designer(user) -> bool:
    """Designers may use the design API: clients made with --designer, and admin staff."""
    if not user or not user.is_authenticated:
        return False
    if user.is_staff:
        return True
    client = getattr(user, "api_client", None)
    return bool(client and client.is_designer)


class IsDesigner(BasePermission):
    message = "Only designers may use the design API."

    def has_permission(self, request, view):
        return is_designer(request.user)
