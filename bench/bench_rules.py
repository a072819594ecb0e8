"""Benchmark of rules/: compiled expressions against simpleeval parsing every time and eval().

Run: python bench/bench_rules.py  (stdlib timing only; exits 1 when a target fails:
the 1,000-item guard under 5 ms, compiled at least 5x parse-every-time on the simple guard).
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simpleeval import EvalWithCompoundTypes  # noqa: E402

from rules import Scope, compile_expression  # noqa: E402

REPEAT = 5
GUARD = "ctx.amount > 100 and ctx.level in ('gold', 'vip')"
GUARD_PY = "ctx['amount'] > 100 and ctx['level'] in ('gold', 'vip')"
SUB_ORDERS = "all(s.status == 'DONE' for s in ctx.order.subOrders)"
SUB_ORDERS_PY = "all(s['status'] == 'DONE' for s in ctx['order']['subOrders'])"
BIG_GUARD = "len([i for i in ctx['items'] if i['qty'] > ctx['amount']])"


def per_second(call: Callable[[], object], number: int) -> float:
    """Evaluations per second: the best of REPEAT runs of `number` calls."""
    best = min(timeit.repeat(call, number=number, repeat=REPEAT))
    return number / best


def seconds_once(call: Callable[[], object], number: int = 20) -> float:
    return min(timeit.repeat(call, number=number, repeat=REPEAT)) / number


def compare(title: str, ours: str, python: str, ctx: dict, number: int) -> dict[str, float]:
    expression = compile_expression(ours)
    scope = Scope(ctx=ctx)
    code = compile(python, "<guard>", "eval")
    builtins = {"__builtins__": {"all": all}}
    functions = {"all": all}

    def parse_every_time() -> object:
        return EvalWithCompoundTypes(names={"ctx": ctx}, functions=functions).eval(ours)

    assert expression.evaluate(scope) == parse_every_time() == eval(code, builtins, {"ctx": ctx})
    rates = {
        "compiled (rules)": per_second(lambda: expression.evaluate(scope), number),
        "simpleeval, parse every time": per_second(parse_every_time, max(number // 20, 10)),
        "eval() of a code object": per_second(lambda: eval(code, builtins, {"ctx": ctx}), number),
    }
    print(f"\n{title}\n  ours: {ours}\n  eval: {python}")
    for name, rate in rates.items():
        print(f"  {name:<30} {rate:>12,.0f} evaluations/s  ({1e6 / rate:8.2f} µs each)")
    compiled = rates["compiled (rules)"]
    parse_ratio = compiled / rates["simpleeval, parse every time"]
    print(f"  compiled / parse-every-time: {parse_ratio:6.1f}x")
    print(f"  eval() / compiled:           {rates['eval() of a code object'] / compiled:6.1f}x")
    return {"parse_ratio": parse_ratio, **rates}


def big_guard() -> float:
    ctx = {"amount": 3, "items": [{"qty": i % 7, "price": 10} for i in range(1000)]}
    expression = compile_expression(BIG_GUARD)
    scope = Scope(ctx=ctx)
    ours = seconds_once(lambda: expression.evaluate(scope))
    theirs = seconds_once(
        lambda: EvalWithCompoundTypes(names={"ctx": ctx}, functions={"len": len}).eval(BIG_GUARD),
        number=1,
    )
    print(f"\n1,000-item guard: {BIG_GUARD}")
    print(f"  compiled (rules)               {ours * 1000:8.2f} ms")
    print(f"  simpleeval, parse every time   {theirs * 1000:8.2f} ms")
    return ours


def main() -> int:
    print(f"Python {sys.version.split()[0]}; best of {REPEAT} runs each")
    simple = compare("Simple guard", GUARD, GUARD_PY, {"amount": 150, "level": "gold"}, 50_000)
    sub_orders = {"order": {"subOrders": [{"id": i, "status": "DONE"} for i in range(50)]}}
    compare("Sub-orders, 50 items", SUB_ORDERS, SUB_ORDERS_PY, sub_orders, 2_000)
    big = big_guard()

    checks = [
        ("1,000-item guard under 5 ms", big < 0.005, f"{big * 1000:.2f} ms"),
        (
            "compiled >= 5x parse-every-time",
            simple["parse_ratio"] >= 5,
            f"{simple['parse_ratio']:.1f}x",
        ),
    ]
    print()
    for name, ok, figure in checks:
        print(f"{'OK  ' if ok else 'FAIL'} {name}: {figure}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
