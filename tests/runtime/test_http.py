"""The outgoing HTTP wrapper, against a real local HTTP server (tests/callback_server.py)."""

import datetime
import decimal
import json
import socket
import threading
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from machines.callback_urls import url_problem
from runtime.http import CallbackError, post_json, sign

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
LOCAL = ["127.0.0.1"]
PAYLOAD = {"instanceId": 7, "event": "E1", "context": {"amount": 12, "note": "café"}}


def post(server, path="/hook", payload=PAYLOAD, **kwargs):
    kwargs = {"allowed_hosts": LOCAL, "secret": SECRET, "timeout": 2.0, **kwargs}
    return post_json(server.url(path), payload, **kwargs)


def refusal(url, **kwargs) -> CallbackError:
    kwargs = {"allowed_hosts": ["*"], "secret": SECRET, "timeout": 1.0, **kwargs}
    with pytest.raises(CallbackError) as caught:
        post_json(url, PAYLOAD, **kwargs)
    return caught.value


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# What arrives ------------------------------------------------------------------------------


def test_it_posts_the_payload_as_compact_json_with_the_documented_headers(callback_server):
    result = post(callback_server, message_id="msg_1")

    [received] = callback_server.requests_to("/hook")
    assert received.method == "POST"
    assert received.body == json.dumps(PAYLOAD, separators=(",", ":"), ensure_ascii=False).encode()
    assert received.json() == PAYLOAD
    assert received.headers["content-type"] == "application/json"
    assert received.headers["user-agent"] == "Statecenter/1"
    assert received.headers["webhook-id"] == "msg_1"
    assert abs(int(received.headers["webhook-timestamp"]) - time.time()) < 5
    assert received.headers["webhook-signature"].startswith("v1,")
    assert (result.url, result.status) == (callback_server.url("/hook"), 200)
    assert result.elapsed_ms > 0
    assert result.as_dict() == {"url": callback_server.url("/hook"), "status": 200}


def test_it_writes_datetimes_and_decimals_as_strings(callback_server):
    moment = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)

    post(callback_server, payload={"at": moment, "amount": decimal.Decimal("12.50")})

    [received] = callback_server.requests
    assert received.json() == {"at": "2025-01-02 03:04:05+00:00", "amount": "12.50"}


def test_it_gives_every_message_a_new_id_unless_one_is_given(callback_server):
    post(callback_server)
    post(callback_server)

    ids = [r.headers["webhook-id"] for r in callback_server.requests]
    assert all(i.startswith("msg_") for i in ids)
    assert ids[0] != ids[1]


# Signature ---------------------------------------------------------------------------------


def test_the_signature_verifies_with_the_standard_webhooks_library(callback_server):
    post(callback_server)

    [received] = callback_server.requests
    assert Webhook(SECRET).verify(received.body, received.headers) == PAYLOAD


def test_a_tampered_body_fails_verification(callback_server):
    post(callback_server)

    [received] = callback_server.requests
    tampered = received.body.replace(b'"amount":12', b'"amount":13')
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(tampered, received.headers)


def test_a_wrong_secret_fails_verification(callback_server):
    post(callback_server)

    [received] = callback_server.requests
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(received.body, received.headers)


def test_a_secret_without_the_whsec_prefix_is_used_as_its_utf8_bytes(callback_server):
    post(callback_server, secret="plain shared secret")

    [received] = callback_server.requests
    assert Webhook(b"plain shared secret").verify(received.body, received.headers) == PAYLOAD


def test_sign_follows_the_standard_webhooks_reference():
    body = b'{"a":1}'
    headers = sign(secret=SECRET, message_id="msg_x", timestamp=1_700_000_000, body=body)

    expected = Webhook(SECRET).sign(
        "msg_x", datetime.datetime.fromtimestamp(1_700_000_000, datetime.UTC), body.decode()
    )
    assert headers == {
        "webhook-id": "msg_x",
        "webhook-timestamp": "1700000000",
        "webhook-signature": expected,
    }


def test_it_uses_the_callback_settings_when_no_arguments_are_given(callback_server, settings):
    settings.CALLBACK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.CALLBACK_SECRET = SECRET
    settings.CALLBACK_TIMEOUT = 0.3
    callback_server.respond("/slow", delay=1.0)

    post_json(callback_server.url("/hook"), PAYLOAD)
    with pytest.raises(CallbackError, match=r"timed out after 0\.3 s"):
        post_json(callback_server.url("/slow"), PAYLOAD)

    received = callback_server.requests_to("/hook")[0]
    assert Webhook(SECRET).verify(received.body, received.headers) == PAYLOAD
    settings.CALLBACK_ALLOWED_HOSTS = ["example.com"]
    with pytest.raises(CallbackError, match="not on the callback allow-list"):
        post_json(callback_server.url("/hook"), PAYLOAD)


# Answers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 204])
def test_it_reports_a_2xx_answer_as_success_with_its_status(callback_server, status):
    callback_server.respond("/hook", status=status)

    assert post(callback_server).status == status


def test_it_fails_a_500_with_the_status(callback_server):
    callback_server.respond("/hook", status=500, body="boom")

    with pytest.raises(CallbackError) as caught:
        post(callback_server)

    assert (caught.value.reason, caught.value.status) == ("HTTP 500", 500)
    assert caught.value.as_dict() == {
        "url": callback_server.url("/hook"),
        "status": 500,
        "error": "HTTP 500",
    }


def test_it_answers_each_call_as_the_server_scripted_a_sequence(callback_server):
    callback_server.respond("/hook", sequence=[500, 503, 200])

    statuses = []
    for _ in range(4):
        try:
            statuses.append(post(callback_server).status)
        except CallbackError as exc:
            statuses.append(exc.status)

    assert statuses == [500, 503, 200, 200]


def test_it_times_out_fast_when_the_receiver_is_slow(callback_server):
    callback_server.respond("/hook", delay=3.0)

    started = time.monotonic()
    with pytest.raises(CallbackError) as caught:
        post(callback_server, timeout=0.3)

    assert time.monotonic() - started < 1.0
    assert caught.value.reason == "timed out after 0.3 s"
    assert caught.value.status is None


def test_it_cuts_a_body_trickled_slowly_at_the_total_timeout(callback_server):
    # 40 bytes, one every 0.05 s: no single read waits long, but the whole answer takes 2 s.
    callback_server.respond("/hook", body=b"x" * 40, trickle=0.05)

    started = time.monotonic()
    with pytest.raises(CallbackError, match="timed out after 0.5 s"):
        post(callback_server, timeout=0.5)

    assert time.monotonic() - started < 1.0


def test_it_cuts_headers_trickled_slowly_at_the_total_timeout():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        thread = threading.Thread(target=trickle_status_line, args=(listener,), daemon=True)
        thread.start()
        started = time.monotonic()
        error = refusal(f"http://127.0.0.1:{listener.getsockname()[1]}/hook", timeout=0.5)

    assert error.reason == "timed out after 0.5 s"
    assert time.monotonic() - started < 1.0


def trickle_status_line(listener):
    """Answer one request with a status line sent a byte every 0.05 s (a slowloris answer)."""
    connection, _ = listener.accept()
    with connection:
        connection.recv(65536)
        try:
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                connection.sendall(bytes([byte]))
                time.sleep(0.05)
        except OSError:
            pass  # the client hung up, as it should


def test_it_refuses_a_redirect_and_never_calls_its_target(callback_server):
    callback_server.respond("/hook", redirect_to=callback_server.url("/target"))

    with pytest.raises(CallbackError) as caught:
        post(callback_server)

    assert caught.value.reason == "redirects are not followed (HTTP 302)"
    assert caught.value.status == 302
    assert len(callback_server.requests_to("/hook")) == 1
    assert callback_server.requests_to("/target") == []


def test_it_fails_with_a_readable_reason_when_the_connection_is_refused():
    url = f"http://127.0.0.1:{closed_port()}/hook"

    error = refusal(url)

    assert (error.reason, error.status, error.url) == ("connection refused", None, url)


# Refused before any request ----------------------------------------------------------------


def test_it_refuses_a_host_off_the_allow_list_without_calling_it(callback_server):
    with pytest.raises(CallbackError) as caught:
        post(callback_server, allowed_hosts=["example.com", "127.0.0.2"])

    assert caught.value.reason == (
        f"host 127.0.0.1:{callback_server.port} is not on the callback allow-list"
    )
    assert caught.value.url == callback_server.url("/hook")
    assert callback_server.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.10.1:8080/",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",
        "http://0xa9.0xfe.0xa9.0xfe/",
        "http://0.0.0.0:8000/",
        "http://[::]/",
        "http://224.0.0.1/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://metadata/",
        "http://instance-data/",
    ],
)
def test_it_refuses_link_local_and_metadata_addresses_even_when_listed_or_any_host_is_allowed(
    url,
):
    host = url.split("/")[2]
    for allowed in (["*"], [host], [host.split(":")[0].strip("[]")]):
        assert url_problem(url, allowed), allowed
        assert refusal(url, allowed_hosts=allowed).status is None


def test_it_refuses_a_host_name_that_resolves_to_a_metadata_address(callback_server, monkeypatch):
    fake_dns(monkeypatch, {"sneaky.test": ["169.254.169.254"]})

    error = refusal(f"http://sneaky.test:{callback_server.port}/hook")

    assert error.reason == (
        "host sneaky.test resolves to a refused address: "
        "169.254.169.254 is a cloud metadata address"
    )
    assert callback_server.requests == []


def test_it_refuses_a_host_name_if_any_of_its_addresses_is_link_local(callback_server, monkeypatch):
    fake_dns(monkeypatch, {"mixed.test": ["127.0.0.1", "fe80::1"]})

    error = refusal(f"http://mixed.test:{callback_server.port}/hook")

    assert "fe80::1 is a link-local address" in error.reason
    assert callback_server.requests == []


def test_it_calls_a_listed_host_name_that_resolves_to_loopback(callback_server):
    result = post_json(
        f"http://localhost:{callback_server.port}/hook",
        PAYLOAD,
        allowed_hosts=["localhost"],
        secret=SECRET,
        timeout=2.0,
    )

    assert result.status == 200
    assert callback_server.requests[0].headers["host"] == f"localhost:{callback_server.port}"


def test_it_connects_to_the_address_it_checked_rather_than_resolving_again(
    callback_server, monkeypatch
):
    # DNS rebinding: the second answer would point at the metadata service.
    answers = [["127.0.0.1"], ["169.254.169.254"]]
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers.pop(0)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)

    post_json(
        f"http://rebind.test:{callback_server.port}/hook",
        PAYLOAD,
        allowed_hosts=["rebind.test"],
        secret=SECRET,
        timeout=1.0,
    )

    assert len(callback_server.requests) == 1
    assert answers == [["169.254.169.254"]]


def fake_dns(monkeypatch, table: dict[str, list[str]]):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in table:
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in table[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# url_problem -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://example.com/hook", ["example.com"]),
        ("http://EXAMPLE.com./hook", ["example.com"]),
        ("https://example.com:8443/hook", ["example.com"]),
        ("https://example.com:8443/hook", ["example.com:8443"]),
        ("https://example.com/hook", ["example.com:443"]),
        ("http://example.com/hook", ["example.com:80"]),
        ("https://example.com/hook", [".example.com"]),
        ("https://api.eu.example.com/hook", [".example.com"]),
        ("https://api.example.com:9000/hook", [".example.com:9000"]),
        ("https://anything.test/hook", ["*"]),
        ("http://10.1.2.3:8080/hook", ["10.1.2.3:8080"]),
        ("http://[::1]:8080/hook", ["[::1]:8080"]),
        ("http://[::1]/hook", ["::1"]),
        ("http://localhost:8000/hook", ["LOCALHOST"]),
    ],
)
def test_url_problem_accepts_urls_on_the_allow_list(url, allowed):
    assert url_problem(url, allowed) is None


@pytest.mark.parametrize(
    ("url", "allowed", "reason"),
    [
        ("ftp://example.com/hook", ["*"], "not an absolute http:// or https:// URL"),
        ("/relative/hook", ["*"], "not an absolute http:// or https:// URL"),
        ("example.com/hook", ["*"], "not an absolute http:// or https:// URL"),
        ("http:///hook", ["*"], "has no host"),
        ("http://user:pw@example.com/", ["*"], "must not contain a user name or password"),
        ("http://user@example.com/", ["*"], "must not contain a user name or password"),
        ("http://exa mple.com/", ["*"], "spaces or control characters"),
        ("http://example.com/\n", ["*"], "spaces or control characters"),
        ("http://[::1/", ["*"], "malformed"),
        ("http://xn--zz.example/", ["*"], "malformed"),
        ("http://example.com:99999/", ["*"], "port 99999 is out of range"),
        ("http://example.com:0/", ["*"], "port 0 is out of range"),
        ("http://example.com:8080/", ["example.com:443"], "example.com:8080 is not on the"),
        ("https://example.com/", ["example.com:8443"], "example.com is not on the"),
        ("https://badexample.com/", [".example.com"], "badexample.com is not on the"),
        ("https://example.com.evil.net/", [".example.com"], "example.com.evil.net is not on"),
        ("https://example.com/", ["api.example.com"], "example.com is not on the"),
        ("https://api.example.com/", ["example.com"], "api.example.com is not on the"),
        ("https://example.com/", [], "example.com is not on the callback allow-list"),
    ],
)
def test_url_problem_refuses_with_a_reason(url, allowed, reason):
    assert reason in url_problem(url, allowed)


def test_a_signature_older_than_the_tolerance_fails_verification():
    body = b'{"a":1}'
    old = int(time.time()) - 3600
    headers = sign(secret=SECRET, message_id="msg_old", timestamp=old, body=body)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, headers)
