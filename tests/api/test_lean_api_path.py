"""What the business API skips on every request, and what it must not lose by it.

The admin's middleware for the browser's language and flash messages runs for the pages, not
for /api/v1/ (config.middleware.pages_only); the event's input serializer
copies its fields shallowly (runtime.apis.common.FlatInputSerializer).
"""

import pytest
from django.test import Client
from rest_framework import serializers

from config.middleware import pages_only
from runtime.apis.common import ContextField, FlatInputSerializer, RoleField
from runtime.apis.instances import InstanceEventFireApi


def test_an_api_answer_is_english_whatever_the_browser_asks(business):
    response = business.post(
        "/api/v1/instances/1/events/", {"event": ["GO"]}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    assert response.status_code == 400
    assert response.json()["details"]["problems"] == [
        {"path": "event", "message": "Not a valid string."}
    ]
    assert "Accept-Language" not in response.get("Vary", "")


def test_the_admin_pages_keep_the_language_and_the_frame_header(db):
    page = Client().get("/admin/login/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert page.status_code == 200
    assert page["X-Frame-Options"] == "DENY"
    assert page["Content-Language"] == "zh-hans"
    assert "登录" in page.content.decode()


def test_a_middleware_with_view_hooks_cannot_be_skipped():
    with pytest.raises(TypeError, match="view hooks"):
        pages_only("django.middleware.csrf.CsrfViewMiddleware")


class Body(FlatInputSerializer):
    event = serializers.CharField(max_length=100)
    role = RoleField()
    context = ContextField()


def test_each_flat_serializer_binds_copies_of_its_fields():
    first, second = Body(data={"event": "GO"}), Body(data={"event": "STOP", "role": 3})

    assert first.is_valid() and second.is_valid()
    assert first.validated_data == {"event": "GO", "role": None, "context": {}}
    assert second.validated_data == {"event": "STOP", "role": 3, "context": {}}
    assert first.fields["event"] is not second.fields["event"]
    assert first.fields["event"].parent is first and second.fields["event"].parent is second
    assert Body._declared_fields["event"].parent is None  # the class's own stay unbound


def test_a_flat_serializer_still_refuses_what_its_fields_refuse():
    body = Body(data={"event": "x" * 101, "role": "admin", "context": []})

    assert not body.is_valid()
    assert set(body.errors) == {"event", "role", "context"}


@pytest.mark.parametrize(
    "make_field",
    [
        lambda: serializers.ListField(child=serializers.CharField()),
        lambda: serializers.DictField(child=serializers.IntegerField()),
        lambda: Body(),
    ],
    ids=["list of fields", "dict of fields", "nested serializer"],
)
def test_a_flat_serializer_refuses_fields_that_are_not_plain(make_field):
    class Nested(FlatInputSerializer):
        inner = make_field()

    with pytest.raises(TypeError, match="not a plain field"):
        Nested(data={}).is_valid()


def test_the_event_body_is_a_flat_serializer():
    assert issubclass(InstanceEventFireApi.InputSerializer, FlatInputSerializer)
