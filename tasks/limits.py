"""Prefect global concurrency and rate limits for cloud providers.

Stability AI allows 150 requests a minute: every image request takes a slot of the
``stability-requests`` rate limit (slots decay at 150/60 per second) and, while it runs, one
of ``stability-concurrency`` (at most ``STABILITY_CONCURRENCY`` requests at once). The limits
are created on the Prefect API the first time they are needed (and by ``make deploy``).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from typing import ContextManager, Iterator

from prefect import get_client
from prefect.concurrency.sync import concurrency, rate_limit

STABILITY_REQUESTS_PER_MINUTE = 150
STABILITY_CONCURRENCY = 4
LIMITS = {
    # name: (limit, slot decay per second: None for a concurrency limit)
    "stability-requests": (STABILITY_REQUESTS_PER_MINUTE, STABILITY_REQUESTS_PER_MINUTE / 60),
    "stability-concurrency": (STABILITY_CONCURRENCY, None),
}

_ensured = False
_lock = threading.Lock()


def ensure_limits() -> None:
    """Create or update the limits on the current Prefect API (idempotent)."""
    global _ensured
    with _lock:
        if _ensured:
            return
        with get_client(sync_client=True) as client:
            for name, (limit, decay) in LIMITS.items():
                client.upsert_global_concurrency_limit_by_name(name, limit, slot_decay_per_second=decay)
        _ensured = True


@contextmanager
def _stability() -> Iterator[None]:
    ensure_limits()
    rate_limit("stability-requests", strict=True)
    with concurrency("stability-concurrency", strict=True):
        yield


def provider_limits(stage: str, provider: str) -> ContextManager[None]:
    """The limits a provider call must hold (none for local providers)."""
    if (stage, provider) == ("image", "stability"):
        return _stability()
    return nullcontext()
