"""Who a request is: API tokens (with failed checks counted) and the admin login's lockout."""

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.conf import settings
from django.http import HttpResponse
from django.utils.translation import gettext
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from clients.selectors import token_credentials
from clients.throttles import auth_failure_counted


class ClientTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, loading the client's roles in the same query."""

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            auth_failure_counted(request)  # 429 THROTTLED instead, past the address's limit
            raise

    def authenticate_credentials(self, key):
        found = token_credentials(key)
        if found is None:
            raise AuthenticationFailed("Invalid token.")
        if not found[0].is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return found


class LoginLockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout for logins over HTTP; a login without a request is not watched.

    Every login a client can reach (the admin's form) passes its request. Code that logs in
    without one, such as Django's test client login(), has no address to lock out, and axes'
    own backend would refuse it outright.
    """

    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def login_lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """axes' lockout answer (429) with Retry-After: the cool-off, which this attempt restarted."""
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    message = gettext(
        "Too many failed logins with this username from your address. Try again in "
        "%(minutes)d minutes."
    ) % {"minutes": max(1, (seconds + 59) // 60)}
    response = HttpResponse(
        message, status=settings.AXES_HTTP_RESPONSE_CODE, content_type="text/plain; charset=utf-8"
    )
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
