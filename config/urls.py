from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView

from config.api_docs import RedocView, SchemaView
from config.landing import landing

urlpatterns = [
    path("", landing, name="landing"),  # the admin's "View site"
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the admin's switch
    # The runtime's routes first: an event's path is matched after fewer patterns.
    path("api/v1/", include("runtime.urls")),
    path("api/v1/", include("machines.urls")),
    path("api/schema/", SchemaView.as_view(), name="schema"),  # YAML; ?format=json: JSON
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="redoc"),
]

# URLs no route matches, and unexpected errors: the API's error format under /api/.
handler400 = "config.exceptions.bad_request"
handler403 = "config.exceptions.permission_denied"
handler404 = "config.exceptions.not_found"
handler500 = "config.exceptions.server_error"
