"""Prefect global concurrency and rate limits for cloud providers, and their reclaiming.

Stability AI allows 150 requests a minute: every image request takes a slot of the
``stability-requests`` rate limit (slots decay at 150/60 per second) and, while it runs, one
of ``stability-concurrency`` (at most ``STABILITY_CONCURRENCY`` requests at once). The limits
are created on the Prefect API the first time they are needed (and by ``make deploy``).

**A slot held by a dead process is given back by itself.** A slot is a Prefect *lease* of
``LEASE_SECONDS`` (the server's minimum), renewed by Prefect while the holder lives. The
leases are kept on disk (``PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE`` = the filesystem
storage, set in ``tasks.prefect_defaults``), so they outlive the API server that granted them.
Prefect's *repossessor* gives back the slots of expired leases — but only a standing
``prefect server`` runs it. ``ytmaker run`` and plain Python calls use a temporary server
that does not, so while such a process needs a limit it runs the repossessor's own step
(``reclaim_expired_leases``) every few seconds against the same database and lease files.
``ytmaker doctor`` runs it once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

from prefect import get_client
from prefect.concurrency.sync import concurrency, rate_limit

log = logging.getLogger("ytmaker.limits")

STABILITY_REQUESTS_PER_MINUTE = 150
STABILITY_CONCURRENCY = 4
LEASE_SECONDS = 60  # the shortest lease Prefect's API grants
RECLAIM_EVERY_SECONDS = 5.0
LIMITS = {
    # name: (limit, slot decay per second: None for a concurrency limit)
    "stability-requests": (STABILITY_REQUESTS_PER_MINUTE, STABILITY_REQUESTS_PER_MINUTE / 60),
    "stability-concurrency": (STABILITY_CONCURRENCY, None),
}

_ensured = False
_lock = threading.Lock()
_reclaimer: threading.Thread | None = None


def uses_temporary_server() -> bool:
    """True when this process talks to a temporary API server of its own (no PREFECT_API_URL):
    then nobody else gives back expired leases."""
    from prefect.settings import get_current_settings

    return not get_current_settings().api.url


def ensure_limits() -> None:
    """Create or update the limits on the current Prefect API (idempotent)."""
    global _ensured
    with _lock:
        if not _ensured:
            with get_client(sync_client=True) as client:
                for name, (limit, decay) in LIMITS.items():
                    client.upsert_global_concurrency_limit_by_name(name, limit, slot_decay_per_second=decay)
            _ensured = True
        _start_reclaimer()


# ---------------------------------------------------------------- reclaiming dead leases

async def _revoke_expired() -> int:
    from prefect.server.concurrency.lease_storage import get_concurrency_lease_storage
    from prefect.server.database import provide_database_interface
    from prefect.server.services.repossessor import revoke_expired_lease

    storage = get_concurrency_lease_storage()
    expired = await storage.read_expired_lease_ids()
    for lease_id in expired:
        await revoke_expired_lease(lease_id, db=provide_database_interface(), lease_storage=storage)
    return len(expired)


def reclaim_expired_leases() -> int:
    """Give back the slots of expired leases (their holders died); returns how many leases.
    Only with a temporary server: a standing server's repossessor does this itself, and two
    reclaimers could give one slot back twice."""
    if not uses_temporary_server():
        return 0
    return asyncio.run(_revoke_expired())


def _start_reclaimer() -> None:
    global _reclaimer
    if not uses_temporary_server() or (_reclaimer is not None and _reclaimer.is_alive()):
        return

    async def every_few_seconds() -> None:
        while True:
            try:
                if freed := await _revoke_expired():
                    log.warning("gave back the concurrency slots of %d expired lease(s) of a dead process", freed)
            except Exception as exc:  # noqa: BLE001 - try again next round; never stop the run
                log.debug("reclaiming expired leases failed: %s", exc)
            await asyncio.sleep(RECLAIM_EVERY_SECONDS)

    _reclaimer = threading.Thread(target=lambda: asyncio.run(every_few_seconds()), name="lease-reclaimer",
                                  daemon=True)
    _reclaimer.start()


@dataclass(frozen=True)
class LimitState:
    name: str
    limit: int
    active_slots: int
    leases: list[tuple[str, int, float]]  # (lease id, slots, seconds left; negative: expired)


def limit_states() -> list[LimitState]:
    """Every global concurrency limit with its taken slots, and the leases behind them when
    the lease files are readable from here."""
    with get_client(sync_client=True) as client:
        limits = client.read_global_concurrency_limits(limit=200)
    leases: dict[str, list[tuple[str, int, float]]] = {}
    if uses_temporary_server():
        leases = asyncio.run(_leases_by_limit())
    return [
        LimitState(limit.name, limit.limit, limit.active_slots, leases.get(str(limit.id), []))
        for limit in limits
    ]


async def _leases_by_limit() -> dict[str, list[tuple[str, int, float]]]:
    from prefect.server.concurrency.lease_storage import get_concurrency_lease_storage

    storage = get_concurrency_lease_storage()
    now = datetime.now(timezone.utc)
    found: dict[str, list[tuple[str, int, float]]] = {}
    ids = set(await storage.read_active_lease_ids(limit=1000)) | set(await storage.read_expired_lease_ids(limit=1000))
    for lease_id in ids:
        lease = await storage.read_lease(lease_id)
        if lease is None:
            continue
        slots = lease.metadata.slots if lease.metadata else 0
        for resource in lease.resource_ids:
            found.setdefault(str(resource), []).append(
                (str(lease_id), slots, (lease.expiration - now).total_seconds()))
    return found


# ---------------------------------------------------------------- what a provider call holds

@contextmanager
def _stability() -> Iterator[None]:
    ensure_limits()
    rate_limit("stability-requests", strict=True)
    with concurrency("stability-concurrency", strict=True, lease_duration=LEASE_SECONDS):
        yield


# Each provider kind has its own queue in a process: its steps wait here, first come first
# served, for one of YTMAKER_{KIND}_CONCURRENCY turns. A kind's queue never holds up another
# kind (the run's thread pool is larger than all turns together), and a step asks the
# Prefect limit (across workers) only once it has a turn of its own: asked while the limit
# is full, Prefect's client backs off for seconds and the waves of requests would not overlap.
TURN_KINDS = ("tts", "image", "avatar")
_turns: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_turns_lock = threading.Lock()


def _turn(kind: str) -> threading.BoundedSemaphore:
    from ytmaker.core.settings import get_settings

    size = int(getattr(get_settings(), f"{kind}_concurrency"))
    with _turns_lock:
        return _turns.setdefault((kind, size), threading.BoundedSemaphore(size))


@contextmanager
def provider_limits(kind: str, provider: str) -> Iterator[None]:
    """Hold what a call of provider ``provider`` of ``kind`` needs: this process's turn for
    the kind, then any limit across workers (Stability's)."""
    with _turn(kind) if kind in TURN_KINDS else nullcontext():
        with _stability() if (kind, provider) == ("image", "stability") else nullcontext():
            yield


# ---------------------------------------------------------------- at the start of every run

def free_dead_holds(flow=None, flow_run=None, state=None) -> None:  # noqa: ANN001 - a Prefect flow hook
    """A run starts by freeing what dead processes still hold, so it never waits on them:
    step locks whose holder process is gone (now), and expired leases (from now on, every
    few seconds, while this process lives)."""
    from tasks.locking import lock_manager

    freed = lock_manager().release_dead_locks()
    if freed:
        log.warning("freed %d step lock(s) held by dead processes", len(freed))
    _start_reclaimer()
