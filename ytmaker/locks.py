"""Cache isolation across workers: a step being computed by one run is waited for, not redone.

prefect-redis's ``RedisLockManager`` does the locking. Added here:

* **Leases, not locks held forever.** Prefect takes every lock with no expiry, so a process
  killed while holding one would block that step for everyone. Here every lock lives
  ``YTMAKER_LOCK_TTL_SECONDS`` (30) and a daemon thread of the holding process renews it every
  third of that while the step runs. A killed process stops renewing; its locks are gone
  within the TTL, and whoever waits for them goes on.
* **A namespace**: lock keys are ``ytmaker:{namespace}:lock:{cache key}``, so installations
  sharing one Redis never wait on each other.
* **Who holds what**, so ``ytmaker recover``/``doctor`` can free a dead run's locks at once.
* Without Redis the pipeline still runs (one process can't race itself): the first
  connection error logs one warning and locking is skipped from then on.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from prefect_redis.locking import RedisLockManager
from redis.exceptions import ConnectionError as RedisConnectionError, LockError, TimeoutError as RedisTimeoutError
from redis.lock import Lock

log = logging.getLogger("ytmaker.locks")
T = TypeVar("T")
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


def _namespace() -> str:
    from ytmaker.settings import get_settings

    return get_settings().namespace


class StepLockManager(RedisLockManager):
    def __init__(self, url: str, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._setup()
        super().__init__(connection_url=url)

    def _setup(self) -> None:
        self._unavailable = False
        self._warn_lock = threading.Lock()
        self._renewer: threading.Thread | None = None
        self._renewer_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "ttl_seconds": self.ttl_seconds}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._setup()
        super().__setstate__(state)

    def _lock_name_for_key(self, key: str) -> str:  # type: ignore[override]
        return f"ytmaker:{_namespace()}:lock:{key}"

    def _guard(self, call: Callable[[], T], fallback: T) -> T:
        if self._unavailable:
            return fallback
        try:
            return call()
        except _UNREACHABLE as exc:
            self._mark_unavailable(exc)
            return fallback

    def _mark_unavailable(self, exc: BaseException) -> None:
        with self._warn_lock:
            if not self._unavailable:
                self._unavailable = True
                log.warning("Redis is unreachable (%s): steps run without cross-worker locks", type(exc).__name__)

    # ------------------------------------------------------------------ holding
    def acquire_lock(self, key, holder, acquire_timeout=None, hold_timeout=None) -> bool:  # noqa: ANN001
        # Prefect asks for no expiry; every lock here is a lease renewed while we live.
        def acquire() -> bool:
            acquired = super(StepLockManager, self).acquire_lock(key, holder, acquire_timeout, self.ttl_seconds)
            if acquired:
                self._remember(key, holder)
                self._ensure_renewer()
            return acquired

        return self._guard(acquire, True)

    async def aacquire_lock(self, key, holder, acquire_timeout=None, hold_timeout=None) -> bool:  # noqa: ANN001
        # Async steps are not renewed: they get the TTL as their hold time, and a step that
        # outlives it may be computed twice (never blocked). The pipeline's steps are sync.
        if self._unavailable:
            return True
        try:
            return await super().aacquire_lock(key, holder, acquire_timeout, self.ttl_seconds)
        except _UNREACHABLE as exc:
            self._mark_unavailable(exc)
            return True

    def _ensure_renewer(self) -> None:
        with self._renewer_lock:
            if self._renewer is None or not self._renewer.is_alive():
                self._renewer = threading.Thread(target=self._renew_forever, name="step-lock-renewer", daemon=True)
                self._renewer.start()

    def _renew_forever(self) -> None:
        while True:  # a daemon thread: it ends with its process, and so do the renewals
            time.sleep(self.ttl_seconds / 3)
            self.renew_held_locks()

    def renew_held_locks(self) -> int:
        """Push the expiry of every lock this process holds back to a full TTL; returns how
        many were renewed. A lock found lost (expired while this process stalled) is
        dropped with a warning: its step finishes, and its result is stored as usual."""
        renewed = 0
        for name, lock in list(self._locks.items()):
            if not isinstance(lock, Lock) or getattr(lock.local, "token", None) is None:
                continue
            try:
                lock.reacquire()
                renewed += 1
            except LockError:
                log.warning("step lock %s expired before it could be renewed", name)
                self._locks.pop(name, None)
            except _UNREACHABLE:
                pass  # Redis away for a moment: the next round tries again
        return renewed

    # ------------------------------------------------------------------ bookkeeping
    # Which flow run holds which lock, so recovery frees the locks of a dead run at once.
    @staticmethod
    def _owner_key(flow_run_id: str) -> str:
        return f"ytmaker:{_namespace()}:locks-of:{flow_run_id}"

    def _remember(self, key: str, holder: str) -> None:
        from prefect.context import TaskRunContext

        ctx = TaskRunContext.get()
        if ctx is None:
            return
        owner = self._owner_key(str(ctx.task_run.flow_run_id))
        pipe = self.client.pipeline()
        pipe.hset(owner, key, holder)
        pipe.expire(owner, 24 * 3600)
        pipe.execute()

    def release_locks_of_run(self, flow_run_id: str) -> int:
        """Free the locks a (dead) flow run still holds; returns how many were freed."""
        def release() -> int:
            owner = self._owner_key(flow_run_id)
            freed = 0
            for key, holder in self.client.hgetall(owner).items():
                freed += self._delete_if_held_by(self._lock_name_for_key(key.decode()), holder)
            self.client.delete(owner)
            return freed

        return self._guard(release, 0)

    _DELETE_IF_HOLDER = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

    def _delete_if_held_by(self, lock_name: str, holder: bytes | str) -> int:
        return int(self.client.eval(self._DELETE_IF_HOLDER, 1, lock_name, holder))

    def held_locks(self) -> list["HeldLock"]:
        """Every step lock of this installation in Redis, with its holder and time left."""
        def scan() -> list[HeldLock]:
            found = []
            prefix = f"ytmaker:{_namespace()}:lock:"
            for name in self.client.scan_iter(match=prefix + "*", count=500):
                holder = self.client.get(name)
                ttl_ms = self.client.pttl(name)
                if holder is None:
                    continue
                found.append(HeldLock(name.decode(), holder.decode(errors="replace"), max(0, ttl_ms) / 1000))
            return found

        return self._guard(scan, [])

    def release_dead_locks(self) -> list["HeldLock"]:
        """Free the locks whose holder is a process of this machine that no longer exists
        (their TTL would free them too; this does it now). Returns the freed ones."""
        freed = []
        for held in self.held_locks():
            if held.holder_is_dead() and self._guard(lambda: self._delete_if_held_by(held.name, held.holder), 0):
                freed.append(held)
        return freed

    # ------------------------------------------------------------------ passthrough, Redis optional
    def release_lock(self, key: str, holder: str) -> None:
        self._guard(lambda: super(StepLockManager, self).release_lock(key, holder), None)

    def wait_for_lock(self, key: str, timeout: float | None = None) -> bool:
        return self._guard(lambda: super(StepLockManager, self).wait_for_lock(key, timeout), True)

    def is_locked(self, key: str) -> bool:
        return self._guard(lambda: super(StepLockManager, self).is_locked(key), False)

    def is_lock_holder(self, key: str, holder: str) -> bool:
        return self._guard(lambda: super(StepLockManager, self).is_lock_holder(key, holder), True)


@dataclass(frozen=True)
class HeldLock:
    name: str
    holder: str  # Prefect's holder: "host:pid:thread id:thread name"
    seconds_left: float

    def holder_is_dead(self) -> bool:
        host, _, rest = self.holder.partition(":")
        pid = rest.partition(":")[0]
        if host != socket.gethostname() or not pid.isdigit():
            return False  # another machine's: its TTL frees it
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


_managers: dict[tuple[str, float], StepLockManager] = {}


def lock_manager(url: str, ttl_seconds: float) -> StepLockManager:
    """One manager per Redis URL (its connection pool is shared by every step)."""
    key = (url, ttl_seconds)
    if key not in _managers:
        _managers[key] = StepLockManager(url, ttl_seconds)
    return _managers[key]
