"""Open-loop senders of async events: `python -m bench.async_load KIND SPEC-JSON`.

- `paced`: REST `{"event": "GO", "async": true}` at a fixed rate (spec `rate`, per second, in
  all), spread over `connections` threads, each sending on its own schedule whatever the
  answers' latency (a late thread catches up at once, it does not skip);
- `broker`: `count` `statecenter.submit_event` messages published to the broker as fast as
  one process can, the way another system would: a bare Celery app with only the broker
  URL, payload `{token, flow, businessKey, event}`.

Both start at `start_at` and print one JSON line: how many were sent, failed, and the
window (paced: `seconds`).
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from urllib.parse import urlsplit

from bench.load import Connection


def paced(spec: dict) -> dict:
    threads = spec.get("connections", 4)
    interval = threads / spec["rate"]
    results = [{} for _ in range(threads)]
    workers = [
        threading.Thread(target=_pace, args=(spec, n, n * interval / threads, interval, results[n]))
        for n in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {
        "count": sum(r["count"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "first_error": next((r["error"] for r in results if r["error"]), None),
        "window": spec["seconds"],
    }


def _pace(spec: dict, n: int, offset: float, interval: float, out: dict) -> None:
    target = urlsplit(spec["url"])
    conn = Connection(target.hostname, target.port)
    token = spec["tokens"][n % len(spec["tokens"])]
    body = json.dumps({"event": "GO", "async": True}).encode()
    head = (
        "POST /api/v1/instances/{id}/events/ HTTP/1.1\r\n"
        f"Host: {target.netloc}\r\nAuthorization: Token {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    lo, hi = spec["ids"]
    rng = random.Random(spec["seed"] + n)
    count, errors, error = 0, 0, None
    due = spec["start_at"] + offset
    end = spec["start_at"] + spec["seconds"]
    while due < end:
        time.sleep(max(0.0, due - time.time()))
        request = head.format(id=rng.randint(lo, hi)).encode() + body
        try:
            status, answer = conn.post(request)
        except OSError as exc:
            conn.close()
            status, answer = None, repr(exc).encode()
        if status == 202:
            count += 1
        else:
            errors += 1
            error = error or f"{status}: {answer[:200].decode(errors='replace')}"
        due += interval
    conn.close()
    out.update(count=count, errors=errors, error=error)


def broker(spec: dict) -> dict:
    from celery import Celery

    app = Celery("bench-publisher", broker=spec["broker"])
    app.conf.task_serializer = "json"
    rng = random.Random(spec["seed"])
    keys, token, flow = spec["keys"], spec["token"], spec["flow"]
    with app.producer_or_acquire() as producer:  # one connection, as a steady publisher keeps
        time.sleep(max(0.0, spec["start_at"] - time.time()))
        began = time.time()
        for _ in range(spec["count"]):
            payload = {"token": token, "flow": flow, "businessKey": rng.choice(keys), "event": "GO"}
            app.send_task("statecenter.submit_event", args=[payload], producer=producer)
    window = time.time() - began
    return {"count": spec["count"], "errors": 0, "first_error": None, "window": window}


if __name__ == "__main__":
    kind, spec = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps({"paced": paced, "broker": broker}[kind](spec)), flush=True)
