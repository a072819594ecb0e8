"""Every admin page of the project, seen by a superuser whose browser asks for Chinese: no
string of ours left in English.

The test walks each registered model's list, add and change pages (with real rows) and the
designer's own pages (every name in the ModelAdmins' get_urls), takes the text a person sees
(scripts, styles, code, typed values and the test's own data left out) and fails on any
English word that is not a code, a JSON field name or a name that stays as it is. Django's
own messages are Django's to translate (a few recent ones have no Chinese there yet).

A page added to a ModelAdmin's get_urls must be added to designer_pages (or NOT_PAGES).
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import django
import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import TokenProxy

from clients.models import ApiClient, FlowGrant
from machines import services
from machines.models import Machine
from operations import rollups
from runtime.models import EventRecord, RefusedSubmission
from runtime.services import instance_create, instance_event_fire
from tests.designer.test_admin_i18n import po_entries
from tests.runtime.helpers import online

pytestmark = pytest.mark.django_db

ENTER_ACTION = "http://localhost:9/hooks/cancelled"
SHOP = {
    "smInfo": {"flowCode": "shop"},
    "smStates": [
        {"stateValue": "NEW", "initial": True, "stateDesc": "新订单"},
        {"stateValue": "PAID"},
        {"stateValue": "ROUTE", "stateType": 2},
        {"stateValue": "SHIPPED", "final": True},
        {"stateValue": "CANCELLED", "final": True, "enterAction": ENTER_ACTION},
    ],
    "smTransitions": [
        {"sourceState": "NEW", "eventValue": "pay", "targetState": "PAID", "eventRole": "2"},
        {"sourceState": "PAID", "eventValue": "ship", "targetState": "ROUTE"},
        {
            "sourceState": "ROUTE",
            "targetState": "SHIPPED",
            "caseCondition": "ctx.amount > 5",
            "caseOrder": 1,
        },
        {"sourceState": "ROUTE", "targetState": "CANCELLED", "caseDefault": 1},
        {"sourceState": "NEW,PAID", "eventValue": "cancel", "targetState": "CANCELLED"},
    ],
}
REFUSED_MESSAGE = "No flow with code nowhere."  # the API's messages are English data here
REFUSED_PAYLOAD = '{"flowCode": "nowhere"}'
FAILURE = "receiver answered 500"
AGENT = "Mozilla/5.0 (X11; Linux x86_64)"

# Words that stay as they are in Chinese: names of products, formats, fields and keys. Codes
# (UPPER_CASE), JSON field names (camelCase), versions (v2) and the test's own data are
# allowed by shape or taken out by source, not listed here.
ALLOWED = {
    "statecenter",  # the product
    "axes",  # django-axes, the login lockouts' app (its texts are in our catalog)
    "django",
    "mermaid",
    "swagger",
    "redoc",
    "openapi",
    "english",  # the language switch offers each language in its own name
    "null",  # JSON values, as the design API writes them
    "true",
    "false",
    "initial",  # the seed format's field names that are a single lowercase word
    "final",
    "version",
    "ctx",  # the expressions' context name
    "id",  # a row's id, as the API names it
    "seed",  # the seed interchange format's name
    "accept",  # the HTTP header's name ("HTTP Accept 头")
    "control",  # keys, in Django's Chinese help of a multiple choice ("Mac 上的 Command 键")
    "command",
    "mac",
}
# django-axes writes these in English, untranslatable: its records' names ("Attempted Access:
# …", "Access Log for … @ …", "Failed access: user … (locked out) on … from …") and its
# status column's heading. Allowed on its own pages only; its other texts are translated.
AXES_FIXED = {"Attempted", "Access", "Log", "for", "Failed", "access", "user", "on", "from"}
AXES_FIXED |= {"locked", "out", "Status"}
# Permission names are stored in the database in English by Django's migrations (Django
# translates none of them, its own included): the permission pickers are not checked.
SKIPPED_SELECTS = {"id_user_permissions", "id_permissions", "id_user_permissions_from"}
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.'’-]*")


class VisibleText(HTMLParser):
    """What a person reads on a page: text and the labels of buttons, titles, placeholders;
    not scripts, styles, code, typed values or a select listing permissions."""

    HIDDEN = {"script", "style", "code", "pre", "textarea", "template"}
    VOID = {"input", "br", "img", "meta", "link", "hr", "col", "source", "wbr", "area"}

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, hides its text)

    @property
    def hidden(self) -> bool:
        return any(hides for _, hides in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if not self.hidden:
            for name in ("title", "placeholder", "aria-label", "alt"):
                self._add(attrs.get(name) or "")
            if tag == "input" and attrs.get("type") in ("submit", "button", "reset"):
                self._add(attrs.get("value") or "")
        if tag in self.VOID:
            return
        hides = tag in self.HIDDEN or (tag == "select" and attrs.get("id") in SKIPPED_SELECTS)
        self.stack.append((tag, hides))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data):
        if not self.hidden:
            self._add(data)

    def _add(self, text: str):
        if text.strip() not in DJANGO_MESSAGES:
            self.parts.append(text)


def _django_messages() -> set[str]:
    """Django's own English messages: a few newer ones have no Chinese in Django yet
    ("Model name", "Add link"); they are Django's to translate, not ours."""
    root = Path(django.__file__).parent
    return {
        msgid for po in root.glob("**/locale/en/LC_MESSAGES/django*.po") for msgid in po_entries(po)
    }


DJANGO_MESSAGES = _django_messages()


def english_words(html: str, data=()) -> set[str]:
    """English words of a page that are neither allowed by shape nor listed as names, once
    the texts in `data` (what the test stored, whole) are taken out."""
    parser = VisibleText()
    parser.feed(html)
    text = " ".join(parser.parts)
    for item in sorted(data, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(item)}(?!\w)", " ", text)
    found = set()
    for word in WORD.findall(text):
        word = word.strip(".'’-")
        if (
            not word
            or word.lower() in ALLOWED
            or word.isupper()  # codes: API, JSON, STATE_UNREACHABLE, URL, UTC
            or re.search(r"[0-9_.]|[a-z][A-Z]", word)  # v2, smInfo.flowCode, stateValue
        ):
            continue
        found.add(word)
    return found


@pytest.fixture
def rows():
    """A flow with an online, a published and a testing version; instances with history, a
    failed async event, a refused broker event; an API client and a group with a grant."""
    live = online(SHOP)
    published = services.machine_publish(machine=services.machine_create(data=SHOP))
    draft = services.machine_create(data=SHOP)
    instance = instance_create(flow_code="shop", business_key="order-1", context={"amount": 9})
    instance_event_fire(instance_id=instance.pk, event="pay", role=2)
    failed = EventRecord.objects.create(
        instance=instance,
        event="ship",
        is_async=True,
        status=EventRecord.Status.FAILED,
        fingerprint="",
        error={"code": "ACTION_FAILED", "message": FAILURE},
        finished_at=timezone.now(),
    )
    refused = RefusedSubmission.objects.create(
        code="NOT_FOUND", message=REFUSED_MESSAGE, flow=live.flow, payload=REFUSED_PAYLOAD
    )
    rollups.history_rollup()
    client_user = User.objects.create_user("billing")
    api_client = ApiClient.objects.create(user=client_user, roles="1,2", is_designer=True)
    token = TokenProxy.objects.create(user=client_user)
    group = Group.objects.create(name="team")
    FlowGrant.objects.create(group=group, flow=live.flow)
    FlowGrant.objects.create(user=client_user, flow=None)  # every flow
    login = {
        "username": "billing",
        "ip_address": "127.0.0.1",
        "user_agent": AGENT,
        "http_accept": "text/html",
        "path_info": "/admin/login/",
    }
    return {
        "attempt": AccessAttempt.objects.create(
            **login, get_data="", post_data="", failures_since_start=2
        ),
        "log": AccessLog.objects.create(**login),
        "failure": AccessFailureLog.objects.create(**login),
        "flow": live.flow,
        "online": live,
        "published": published,
        "draft": draft,
        "instance": instance,
        "failed": failed,
        "refused": refused,
        "api_client": api_client,
        "group": group,
        "user": client_user,
        "token": token,
    }


def stored_texts(superuser) -> list[str]:
    """What the test itself stored and pages show as it is (names, keys, messages)."""
    return [
        *(s["stateValue"] for s in SHOP["smStates"]),
        *(t.get("eventValue") or "" for t in SHOP["smTransitions"]),
        ENTER_ACTION,
        "shop",
        "order-1",
        "amount",
        "billing",
        "team",
        superuser.username,
        REFUSED_MESSAGE,
        REFUSED_PAYLOAD,
        FAILURE,
        AGENT,
        "text/html",
        "/admin/login/",
        "<unknown>",  # axes' user agent and path of a login with the test client
    ]


def change_pages(rows) -> dict[type, object]:
    """A real row of every registered model, for its change page."""
    return {
        "machines.flow": rows["flow"],
        "machines.machine": rows["draft"],
        "runtime.instance": rows["instance"],
        "runtime.refusedsubmission": rows["refused"],
        "operations.flowoperations": rows["flow"],
        "clients.apiclient": rows["api_client"],
        "auth.group": rows["group"],
        "auth.user": rows["user"],
        "authtoken.tokenproxy": rows["token"],
        "axes.accessattempt": rows["attempt"],
        "axes.accesslog": rows["log"],
        "axes.accessfailurelog": rows["failure"],
    }


def designer_pages(rows) -> dict[str, str]:
    """Every named page of the designer's get_urls; POST-only ones and downloads are below."""
    m, flow = rows["draft"], rows["flow"]
    return {
        "machines_flow_diff": reverse("admin:machines_flow_diff", args=[flow.pk])
        + f"?a={rows['online'].pk}&b={m.pk}",
        "machines_machine_import": reverse("admin:machines_machine_import"),
        "machines_machine_overview": reverse("admin:machines_machine_overview", args=[m.pk]),
        "machines_machine_simulate": reverse("admin:machines_machine_simulate", args=[m.pk]),
        "machines_machine_step": reverse("admin:machines_machine_step", args=[m.pk, "publish"]),
        "machines_machine_replay": reverse("admin:machines_machine_replay", args=[m.pk])
        + f"?run=1&source={rows['online'].pk}&window=last&limit=10",
        "operations_flowoperations_change": reverse(
            "admin:operations_flowoperations_change", args=[flow.pk]
        ),
    }


# Named admin URLs that show no page: they take a POST and redirect, or download a file.
NOT_PAGES = {
    "machines_machine_simulate_run",  # POST, answers JSON the simulator page shows
    "machines_machine_export",  # a JSON download
    "machines_machine_live",  # POST from the draft editor, answers JSON it shows
    "machines_machine_live_new",
    "runtime_instance_replay",  # POST, redirects to the instance
    "operations_flowoperations_replay",  # POST, redirects to the operations page
}


def admin_pages(rows) -> list[str]:
    """Index, app indexes, and each model's list, add and change pages, then the designer's."""
    urls = [reverse("admin:index")]
    superuser_request = type("R", (), {"user": User.objects.get(username="ada")})()
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        name = f"admin:{opts.app_label}_{opts.model_name}"
        urls.append(reverse("admin:app_list", args=[opts.app_label]))
        urls.append(reverse(f"{name}_changelist"))
        if model_admin.has_add_permission(superuser_request):
            urls.append(reverse(f"{name}_add"))
        row = change_pages(rows)[opts.label_lower]
        urls.append(reverse(f"{name}_change", args=[row.pk]))
    for label in ("online", "published"):  # frozen versions: read-only inlines
        urls.append(reverse("admin:machines_machine_change", args=[rows[label].pk]))
    for page in ("delete", "history"):
        urls.append(reverse(f"admin:machines_machine_{page}", args=[rows["draft"].pk]))
    urls.append(reverse("admin:machines_machine_changelist") + "?status__exact=1")
    urls += designer_pages(rows).values()
    return list(dict.fromkeys(urls))


def test_every_named_designer_page_is_walked(rows):
    names = {
        pattern.name
        for model_admin in admin.site._registry.values()
        for pattern in model_admin.get_urls()
        if pattern.name and not re.search(r"_(changelist|add|change|delete|history)$", pattern.name)
    }
    names |= {"operations_flowoperations_change"}  # a ModelAdmin page made a designer page

    assert names - set(NOT_PAGES) == set(designer_pages(rows))


def test_no_admin_page_shows_an_english_string_of_ours_to_a_chinese_browser(client, rows):
    superuser = User.objects.create_superuser("ada", password="pw")
    client.force_login(superuser)
    allowed = stored_texts(superuser)

    english = {}
    pages = admin_pages(rows)
    for url in pages:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code == 200, url
        assert response["Content-Language"] == "zh-hans", url
        words = english_words(response.content.decode(), allowed)
        if url.startswith("/admin/axes/"):
            words -= AXES_FIXED
        if words:
            english[url] = sorted(words)

    # A form sent back with its errors: the import of a JSON that is no machine.
    response = client.post(
        reverse("admin:machines_machine_import"), {"text": "[1]"}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 200 and response.context["form"].errors
    if words := english_words(response.content.decode(), allowed):
        english["import (refused)"] = sorted(words)

    assert len(pages) > 25
    assert not english, "English left:\n" + "\n".join(
        f"{url}: {' '.join(words)}" for url, words in english.items()
    )


def test_the_check_catches_an_english_label_and_lets_codes_and_data_pass():
    html = (
        "<h1>流程</h1><label>Business key</label><code>ctx.amount</code>"
        "<script>var skipped = 'English';</script><input value='typed by a person'>"
        "<input type='submit' value='Compare'><p>STATE_UNREACHABLE stateValue v2 API NEW</p>"
    )

    assert english_words(html, ["NEW"]) == {"Business", "key", "Compare"}
    assert english_words("<p>No flow with code x. Payload: flow</p>", ["No flow with code x."]) == {
        "Payload",
        "flow",
    }


def test_the_api_keeps_its_english_names_for_a_chinese_client(designer, rows):
    # Stored without a user, the versions have no creator, which the list's schema does not
    # allow for (a string): named here, as a designer's API call would have.
    Machine.objects.filter(flow=rows["flow"]).update(creator="ada", modifier="ada")
    listed = designer.get(
        "/api/v1/machines/", {"flow": "shop"}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).json()
    refused = designer.post(
        f"/api/v1/machines/{rows['online'].pk}/publish/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).json()

    assert [m["statusName"] for m in listed] == ["online", "published", "testing"]
    assert refused["code"] == "LIFECYCLE_ERROR" and refused["details"]["status"] == "online"
    assert "online" in refused["message"]
