"""A real local HTTP server for callback tests: it records every request and answers as scripted.

Registered in tests/conftest.py; use the `callback_server` fixture:

    callback_server.respond("/hook", sequence=[500, 500, 200])
    post_json(callback_server.url("/hook"), {...})
    assert callback_server.requests_to("/hook")[0].json() == {...}
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class Script:
    status: int = 200
    delay: float = 0.0  # seconds to wait before answering
    sequence: list[int] = field(default_factory=list)  # answered in order, the last one repeats
    redirect_to: str | None = None
    body: bytes = b""
    trickle: float = 0.0  # seconds between the body's bytes
    headers: dict[str, str] = field(default_factory=dict)  # extra answer headers

    def next_status(self) -> int:
        """The status of the next answer."""
        if self.sequence:
            return self.sequence.pop(0) if len(self.sequence) > 1 else self.sequence[0]
        return self.status


class CallbackServer:
    """A threaded HTTP server on 127.0.0.1 with a free port, scripted per path."""

    def __init__(self):
        self.requests: list[Received] = []
        self._scripts: dict[str, Script] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True  # a handler still sleeping never blocks teardown
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/") -> str:
        """The full URL of a path on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def respond(
        self,
        path: str,
        *,
        status: int | None = None,
        delay: float = 0.0,
        sequence: list[int] | None = None,
        redirect_to: str | None = None,
        body: bytes | str = b"",
        trickle: float = 0.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Script the answers to a path (by default: 200, or 302 with redirect_to)."""
        if status is None:
            status = 302 if redirect_to else 200
        self._scripts[path] = Script(
            status=status,
            delay=delay,
            sequence=list(sequence or []),
            redirect_to=redirect_to,
            body=body.encode() if isinstance(body, str) else body,
            trickle=trickle,
            headers=dict(headers or {}),
        )

    def requests_to(self, path: str) -> list[Received]:
        """The requests received on a path (query string excluded), oldest first."""
        return [r for r in self.requests if r.path.split("?")[0] == path]

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, received: Received) -> tuple[Script, int]:
        with self._lock:
            self.requests.append(received)
            script = self._scripts.get(received.path.split("?")[0], Script())
            return script, script.next_status()


def _handler_for(server: CallbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            received = Received(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length),
            )
            script, status = server._answer(received)
            time.sleep(script.delay)
            try:
                self._send(script, status)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

        def _send(self, script: Script, status: int):
            self.send_response(status)
            if script.redirect_to:
                self.send_header("Location", script.redirect_to)
            for name, value in script.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(script.body)))
            self.end_headers()
            if not script.trickle:
                self.wfile.write(script.body)
                return
            for byte in script.body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(script.trickle)

        do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format, *args):
            pass  # keep test output quiet

    return Handler


@pytest.fixture
def callback_server():
    """A running CallbackServer, shut down after the test."""
    server = CallbackServer()
    yield server
    server.close()
