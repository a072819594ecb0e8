"""API routes: each ends with a slash, and its slashless form is an alias of it.

The alias is the same view, not a redirect: a redirected POST loses its body, and clients
written against the slashless paths the API once published keep working. The OpenAPI schema
lists only the slash-ended form (config.schema.AutoSchema.is_excluded).
"""

from django.urls import URLPattern, path


def route(pattern: str, view, name: str) -> list[URLPattern]:
    """The canonical route `pattern` (ending with a slash) and its slashless alias."""
    if not pattern.endswith("/"):
        raise ValueError(f"API routes end with a slash: {pattern!r}")
    return [path(pattern, view, name=name), path(pattern.removesuffix("/"), view)]
