"""The API's own documentation: the OpenAPI schema, Swagger UI and ReDoc, all served here.

Swagger UI and ReDoc come from drf-spectacular-sidecar's static files (SPECTACULAR_SETTINGS),
so the pages load nothing from another host and work offline.
"""

from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer


class FormatQueryNegotiation(DefaultContentNegotiation):
    """?format=json or ?format=yaml chooses the schema's format.

    The API turns DRF's ?format= off (URL_FORMAT_OVERRIDE: it is the diagram API's parameter),
    so the schema view reads it itself; without it the Accept header chooses, as before.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        chosen = format_suffix or request.query_params.get("format")
        return super().select_renderer(request, renderers, chosen)


class SchemaView(SpectacularAPIView):
    """/api/schema/: YAML by default, JSON with ?format=json (as application/json)."""

    content_negotiation_class = FormatQueryNegotiation
    # application/json before application/vnd.oai.openapi+json: the one ?format=json answers;
    # an Accept header naming either still gets it.
    renderer_classes = [
        OpenApiYamlRenderer,
        OpenApiYamlRenderer2,
        OpenApiJsonRenderer2,
        OpenApiJsonRenderer,
    ]

    def perform_content_negotiation(self, request, force=False):
        """An error (?format=xml: 404, an Accept it lacks: 406) in the API's JSON error format,
        where DRF would render it with the first renderer, YAML."""
        try:
            return super().perform_content_negotiation(request)
        except Exception:
            if not force:
                raise
            return JSONRenderer(), JSONRenderer.media_type


class RedocView(SpectacularRedocView):
    """ReDoc that loads only from this server: drf-spectacular's page without its Google Fonts
    links, and a Content-Security-Policy that keeps ReDoc from fetching its "API docs by
    Redocly" logo from Redocly's CDN (it hides the image when it cannot load)."""

    template_name = "api_docs/redoc.html"
    content_security_policy = (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:"
    )

    @extend_schema(exclude=True)  # a page, not an operation of the API
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = self.content_security_policy
        return response
