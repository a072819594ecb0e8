"""An API test client that checks every answer of the API against the OpenAPI schema.

The fixtures' clients (tests/conftest.py) are SchemaCheckedClient: each answer under /api/v1/
must have a status the operation documents, and a body that matches the schema documented for
that status (schemathesis' response checks). A test that gets an answer the schema does not
describe fails there, whatever it asserts itself.

Not checked: a method the path does not have (a 405, which no schema lists) and answers of
tests that send what the schema cannot describe on purpose (they use a plain APIClient).
"""

import functools
import json
import re

import requests
from rest_framework.test import APIClient

API_PREFIX = "/api/v1/"


@functools.cache
def _schema():
    import schemathesis
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    document = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))
    return schemathesis.openapi.from_dict(document)


def _template(resolver_match) -> str:
    """api/v1/instances/<int:instance_id>/ -> /api/v1/instances/{instance_id}/"""
    path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", resolver_match.route)
    return path if path.endswith("/") else path + "/"  # a slashless alias: its route's schema


def check_answer(method: str, response) -> None:
    """Raise (schemathesis' FailureGroup) if the answer does not match the schema."""
    from schemathesis.core.transport import Response

    match = getattr(response.wsgi_request, "resolver_match", None)  # None: no route matched
    if match is None or not match.route.startswith(API_PREFIX.lstrip("/")):
        return
    try:
        operation = _schema()[_template(match)][method.upper()]
    except LookupError:  # a method the path does not have
        return
    request = requests.Request(method, "http://testserver" + response.wsgi_request.path).prepare()
    answer = Response(
        status_code=response.status_code,
        headers={key: [value] for key, value in response.headers.items()},
        content=response.content,
        request=request,
        elapsed=0.0,
        verify=True,
    )
    operation.validate_response(answer)


class SchemaCheckedClient(APIClient):
    def request(self, **kwargs):
        response = super().request(**kwargs)
        check_answer(kwargs["REQUEST_METHOD"], response)
        return response
