"""The landing page at /: where the admin, the API documentation and the probes are.

The admin's "View site" link leads here. Nothing is read from the database: the page is the
same for everyone, in the browser's language (or the one chosen with the switch).
"""

from django.template.response import TemplateResponse
from django.views.decorators.http import require_safe


@require_safe
def landing(request):
    """GET or HEAD /: links to the designer, the API docs and the health endpoints."""
    return TemplateResponse(request, "landing.html")
