"""TEST-ONLY in-memory implementations, to drive real rollouts of the engine without Docker or
Traefik: :class:`FakeOrchestrator` keeps services in memory, :class:`FakeRouter` records the
routing it is given. Use them with :class:`canary_sdk.MemoryStateStore` and a Python metrics
source. They are not for production use."""

from __future__ import annotations

from ._native import FakeOrchestrator, FakeRouter, bench_status_rust, raise_core_error

__all__ = ["FakeOrchestrator", "FakeRouter", "raise_core_error", "bench_status_rust"]
