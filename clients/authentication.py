from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


class ClientTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, loading the client's roles in the same query."""

    def authenticate_credentials(self, key):
        model = self.get_model()
        token = model.objects.select_related("user", "user__api_client").filter(key=key).first()
        if token is None:
            raise AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return token.user, token
