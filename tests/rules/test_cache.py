"""The compile cache holds at most MAX_CACHE_BYTES of syntax trees, evicting the oldest."""

import gc
import tracemalloc

from rules import compile_expression, limits
from rules.compiler import CACHE


def _long_expression(n: int) -> str:
    """About 2,000 characters and 1,000 nodes: the most a source may hold."""
    return f"[{n}" + ",0" * 995 + "]"


def test_it_compiles_each_source_once_and_hands_back_the_same_expression():
    first = compile_expression("ctx.amount > 41")

    assert compile_expression("ctx.amount > 41") is first
    assert "ctx.amount > 41" in CACHE


def test_the_memory_it_holds_stays_under_its_limit_and_it_evicts(monkeypatch):
    monkeypatch.setattr(limits, "MAX_CACHE_BYTES", 8 * 1024 * 1024)
    CACHE.clear()
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for n in range(60):  # some 23 MB of trees if nothing were evicted
            compile_expression(_long_expression(n))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        kept, estimated = len(CACHE), CACHE.bytes
    finally:
        tracemalloc.stop()
        CACHE.clear()

    assert held < 8 * 1024 * 1024
    assert 0 < kept < 60
    assert held <= estimated <= 8 * 1024 * 1024  # the estimate is an upper bound


def test_it_evicts_the_least_recently_used_first(monkeypatch):
    monkeypatch.setattr(limits, "MAX_CACHE_BYTES", 2 * 1024 * 1024)
    CACHE.clear()
    try:
        oldest, kept = _long_expression(0), _long_expression(1)
        compile_expression(oldest)
        compile_expression(kept)
        for n in range(2, 12):
            compile_expression(kept)  # used again: it stays
            compile_expression(_long_expression(n))

        assert kept in CACHE
        assert oldest not in CACHE
        assert 0 < CACHE.bytes <= 2 * 1024 * 1024
    finally:
        CACHE.clear()


def test_it_does_not_keep_an_expression_larger_than_the_whole_cache(monkeypatch):
    monkeypatch.setattr(limits, "MAX_CACHE_BYTES", 10_000)
    CACHE.clear()

    expression = compile_expression(_long_expression(7))

    assert expression.evaluate()[0] == 7
    assert len(CACHE) == 0
