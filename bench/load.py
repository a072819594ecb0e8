"""A bounded, closed-loop HTTP load generator: `python -m bench.load SPEC-JSON`.

`connections` threads, each with its own connection and API token, POST one event at a time
to a random instance out of `ids`; warm-up until `start_at`, then `seconds` of measurement;
prints the same JSON line as bench.drivers.

HTTP/1.1 is spoken on plain sockets with the request bytes prepared once: on a machine with
two CPUs the generator's own CPU is taken from the server it measures, and http.client
spends several times more per request (header objects, email-parser responses). A
connection is kept when the server keeps it; gunicorn's sync workers close it after each
answer, and the client connects again.
"""

from __future__ import annotations

import json
import random
import socket
import sys
import threading
import time
from urllib.parse import urlsplit


class Connection:
    """One keep-alive-when-allowed HTTP/1.1 connection that POSTs prepared requests."""

    def __init__(self, host: str, port: int):
        self.address = (host, port)
        self.sock: socket.socket | None = None

    def post(self, request: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(request)
        status, body, keep = self._response()
        if not keep:
            self.close()
        return status, body

    def _response(self) -> tuple[int, bytes, bool]:
        data = b""
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += self._recv()
        head, body = data[:end].split(b"\r\n"), data[end + 4 :]
        status = int(head[0].split(b" ", 2)[1])
        fields = {}
        for line in head[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip().lower()
        if b"transfer-encoding" in fields:
            raise ConnectionError("chunked answers are not supported")
        length = int(fields.get(b"content-length", -1))
        keep = fields.get(b"connection") != b"close"
        if length < 0:  # no length: the body runs until the server closes
            while chunk := self.sock.recv(65536):
                body += chunk
            return status, body, False
        while len(body) < length:
            body += self._recv()
        return status, body, keep

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-answer")
        return chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def client_loop(spec: dict, token: str, seed: int, out: dict) -> None:
    target = urlsplit(spec["url"])
    conn = Connection(target.hostname, target.port)
    body = json.dumps(spec["body"]).encode()
    head = (
        "POST {path} HTTP/1.1\r\n"
        f"Host: {target.netloc}\r\n"
        f"Authorization: Token {token}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    lo, hi = spec["ids"]
    rng = random.Random(seed)
    latencies, errors, first_error = [], 0, None
    end = spec["start_at"] + spec["seconds"]
    clock = time.perf_counter
    while True:
        now = time.time()
        if now >= end:
            break
        counted = now >= spec["start_at"]
        request = head.format(path=spec["path"].format(id=rng.randint(lo, hi))).encode() + body
        t0 = clock()
        try:
            status, answer = conn.post(request)
        except OSError as exc:
            conn.close()
            status, answer = None, repr(exc).encode()
        elapsed = clock() - t0
        if not counted:
            continue
        if status == spec.get("ok", 200):  # 202 for async events
            latencies.append(round(elapsed * 1e6))
        else:
            errors += 1
            first_error = first_error or f"{status}: {answer[:200].decode(errors='replace')}"
    conn.close()
    out.update(latencies=latencies, errors=errors, first_error=first_error)


def run(spec: dict) -> dict:
    results = [{} for _ in spec["tokens"]]
    threads = [
        threading.Thread(target=client_loop, args=(spec, token, spec["seed"] + n, results[n]))
        for n, token in enumerate(spec["tokens"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies = [lat for r in results for lat in r["latencies"]]
    return {
        "count": len(latencies),
        "errors": sum(r["errors"] for r in results),
        "first_error": next((r["first_error"] for r in results if r["first_error"]), None),
        "window": spec["seconds"],
        "late": 0.0,
        "latencies_us": latencies,
    }


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))), flush=True)
