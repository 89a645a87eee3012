"""Cache isolation across workers: a step being computed by one run is waited for, not redone.

prefect-redis's ``RedisLockManager`` does the locking. Two things are added here:

* Prefect takes every lock with no expiry, so a worker killed while holding one would block
  that step for everyone, forever. Here a lock held longer than ``YTMAKER_LOCK_HOLD_SECONDS``
  expires (set it above the longest step: the render and upload timeouts are below it).
* Without Redis the pipeline still runs (one process can't race itself): the first
  connection error logs one warning and locking is skipped from then on.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, TypeVar

from prefect_redis.locking import RedisLockManager
from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError

log = logging.getLogger("ytmaker.locks")
T = TypeVar("T")
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class StepLockManager(RedisLockManager):
    def __init__(self, url: str, hold_seconds: float) -> None:
        self.hold_seconds = hold_seconds
        self._unavailable = False
        self._warn_lock = threading.Lock()
        super().__init__(connection_url=url)

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "hold_seconds": self.hold_seconds}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._unavailable = False
        self._warn_lock = threading.Lock()
        super().__setstate__(state)

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

    def acquire_lock(self, key, holder, acquire_timeout=None, hold_timeout=None) -> bool:  # noqa: ANN001
        hold = hold_timeout if hold_timeout is not None else self.hold_seconds

        def acquire() -> bool:
            acquired = super(StepLockManager, self).acquire_lock(key, holder, acquire_timeout, hold)
            if acquired:
                self._remember(key, holder, hold)
            return acquired

        return self._guard(acquire, True)

    # Which flow run holds which lock, so recovery can free the locks of a run whose worker
    # died at once instead of letting every other run wait out the hold timeout.
    @staticmethod
    def _owner_key(flow_run_id: str) -> str:
        return f"locks-of:{flow_run_id}"

    def _remember(self, key: str, holder: str, hold: float) -> None:
        from prefect.context import TaskRunContext

        ctx = TaskRunContext.get()
        if ctx is None:
            return
        owner = self._owner_key(str(ctx.task_run.flow_run_id))
        pipe = self.client.pipeline()
        pipe.hset(owner, key, holder)
        pipe.expire(owner, int(hold) + 60)
        pipe.execute()

    def release_locks_of_run(self, flow_run_id: str) -> int:
        """Free the locks a (dead) flow run still holds; returns how many were freed."""
        def release() -> int:
            owner = self._owner_key(flow_run_id)
            freed = 0
            for key, holder in self.client.hgetall(owner).items():
                lock_name = self._lock_name_for_key(key.decode())
                if self.client.get(lock_name) == holder:
                    freed += self.client.delete(lock_name)
            self.client.delete(owner)
            return freed

        return self._guard(release, 0)

    async def aacquire_lock(self, key, holder, acquire_timeout=None, hold_timeout=None) -> bool:  # noqa: ANN001
        hold = hold_timeout if hold_timeout is not None else self.hold_seconds
        if self._unavailable:
            return True
        try:
            return await super().aacquire_lock(key, holder, acquire_timeout, hold)
        except _UNREACHABLE as exc:
            self._mark_unavailable(exc)
            return True

    def release_lock(self, key: str, holder: str) -> None:
        self._guard(lambda: super(StepLockManager, self).release_lock(key, holder), None)

    def wait_for_lock(self, key: str, timeout: float | None = None) -> bool:
        return self._guard(lambda: super(StepLockManager, self).wait_for_lock(key, timeout), True)

    def is_locked(self, key: str) -> bool:
        return self._guard(lambda: super(StepLockManager, self).is_locked(key), False)

    def is_lock_holder(self, key: str, holder: str) -> bool:
        return self._guard(lambda: super(StepLockManager, self).is_lock_holder(key, holder), True)


_managers: dict[tuple[str, float], StepLockManager] = {}


def lock_manager(url: str, hold_seconds: float) -> StepLockManager:
    """One manager per Redis URL (its connection pool is shared by every step)."""
    key = (url, hold_seconds)
    if key not in _managers:
        _managers[key] = StepLockManager(url, hold_seconds)
    return _managers[key]
