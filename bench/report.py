"""Figures out of rounds, and the one table the suite prints."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass
class Result:
    """One measurement over its rounds: per round the rate, p50 and p99 (µs), and the CPU
    seconds per call where the run measured them (the process's own, or the web workers')."""

    label: str
    unit: str = "TPS"
    rates: list[float] = field(default_factory=list)
    p50s: list[float] = field(default_factory=list)
    p99s: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None

    def add_round(self, runs: list[dict]) -> tuple[float, float, float]:
        """Pool one round's processes: rates add up, latencies merge."""
        rate = sum(r["count"] / r["window"] for r in runs if r["window"] > 0)
        latencies = sorted(lat for r in runs for lat in r["latencies_us"])
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        self.rates.append(rate)
        self.p50s.append(p50)
        self.p99s.append(p99)
        count = sum(r["count"] for r in runs)
        if count and all(r.get("cpu") is not None for r in runs):
            self.cpus.append(sum(r["cpu"] for r in runs) / count)
        self.errors += sum(r["errors"] for r in runs)
        self.first_error = self.first_error or next(
            (r["first_error"] for r in runs if r["first_error"]), None
        )
        return rate, p50, p99

    @property
    def rate(self) -> float:
        return statistics.median(self.rates) if self.rates else float("nan")

    @property
    def p50(self) -> float:
        return statistics.median(self.p50s) if self.p50s else float("nan")

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus) if self.cpus else float("nan")

    @property
    def p99(self) -> float:
        return statistics.median(self.p99s) if self.p99s else float("nan")


def percentile(ordered: list[float], pct: float) -> float:
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


@dataclass
class Row:
    label: str
    figure: str = ""
    p50: str = ""
    p99: str = ""
    ratio: str = ""
    goal: str = ""
    verdict: str = ""


def ms(us: float) -> str:
    return "—" if us != us else f"{us / 1000:.2f} ms"


def rate_text(rate: float, unit: str) -> str:
    return "—" if rate != rate else f"{rate:,.0f} {unit}"


def ratio_text(value: float, reference: str) -> str:
    return "—" if value != value else f"{value:.2f} × {reference}"


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISS"


HEADERS = ("measurement", "figure", "p50", "p99", "ratio", "goal", "")


def table(rows: list[Row]) -> str:
    cells = [HEADERS] + [
        (r.label, r.figure, r.p50, r.p99, r.ratio, r.goal, r.verdict) for r in rows
    ]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADERS))]
    right = {1, 2, 3}

    def line(values) -> str:
        return "  ".join(
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(HEADERS), rule, *(line(c) for c in cells[1:])])
