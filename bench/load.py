"""A bounded, closed-loop HTTP load generator: `python -m bench.load SPEC-JSON`.

`connections` threads, each with its own http.client connection (kept alive when the server
allows it; gunicorn's sync workers close after each answer, and http.client reconnects) and
its own API token, POST one event at a time to a random instance out of `ids`. Warm-up until
`start_at`, then `seconds` of measurement; prints the same JSON line as bench.drivers.
"""

from __future__ import annotations

import http.client
import json
import random
import sys
import threading
import time
from urllib.parse import urlsplit


def client_loop(spec: dict, token: str, seed: int, out: dict) -> None:
    target = urlsplit(spec["url"])
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    body = json.dumps(spec["body"]).encode()
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
        t0 = clock()
        try:
            conn.request("POST", spec["path"].format(id=rng.randint(lo, hi)), body, headers)
            response = conn.getresponse()
            answer = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
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
