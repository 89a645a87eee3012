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

import json
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
    from ytmaker.core.settings import get_settings

    return get_settings().namespace


class StepLockManager(RedisLockManager):
    """``url``/``ttl_seconds`` None: follow the settings (``REDIS_URL``,
    ``YTMAKER_LOCK_TTL_SECONDS``) as they are when a lock is used, not when a task's module
    was imported."""

    def __init__(self, url: str | None = None, ttl_seconds: float | None = None) -> None:
        self.follows_settings = url is None
        if url is None or ttl_seconds is None:
            from ytmaker.core.settings import get_settings

            url = url or get_settings().redis_url
            ttl_seconds = ttl_seconds or get_settings().lock_ttl_seconds
        self.ttl_seconds = ttl_seconds
        self._setup()
        super().__init__(connection_url=url)

    def _follow_settings(self) -> None:
        if not self.follows_settings:
            return
        from ytmaker.core.settings import get_settings

        settings = get_settings()
        self.ttl_seconds = settings.lock_ttl_seconds
        if settings.redis_url != self.connection_url:
            self.connection_url = settings.redis_url
            self._init_clients()
            self._unavailable = False

    def _setup(self) -> None:
        self._unavailable = False
        self._warn_lock = threading.Lock()
        self._renewer: threading.Thread | None = None
        self._renewer_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "ttl_seconds": self.ttl_seconds, "follows_settings": self.follows_settings}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._setup()
        super().__setstate__(state)

    def _lock_name_for_key(self, key: str) -> str:  # type: ignore[override]
        return f"ytmaker:{_namespace()}:lock:{key}"

    def _guard(self, call: Callable[[], T], fallback: T) -> T:
        self._follow_settings()
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
        self._follow_settings()
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
    # Prefect's holder is a random id per transaction: it says nothing about the process. So
    # beside each lock we note which process (host, pid) and which flow run took it, in one
    # hash per installation; recovery and `doctor` free a dead process's locks at once.
    def _owners_key(self) -> str:
        return f"ytmaker:{_namespace()}:lock-owners"

    def _remember(self, key: str, holder: str) -> None:
        from prefect.context import TaskRunContext

        ctx = TaskRunContext.get()
        owner = {"holder": holder, "host": socket.gethostname(), "pid": os.getpid(),
                 "flow_run_id": str(ctx.task_run.flow_run_id) if ctx is not None else None}
        self.client.hset(self._owners_key(), self._lock_name_for_key(key), json.dumps(owner))

    def release_locks_of_run(self, flow_run_id: str) -> int:
        """Free the locks a (dead) flow run still holds; returns how many were freed."""
        return len(self._release_where(lambda held: held.flow_run_id == flow_run_id))

    def release_dead_locks(self) -> list["HeldLock"]:
        """Free the locks whose holder is a process of this machine that no longer exists
        (their TTL would free them too; this does it now). Returns the freed ones."""
        return self._release_where(HeldLock.holder_is_dead)

    def _release_where(self, dead: Callable[["HeldLock"], bool]) -> list["HeldLock"]:
        freed = []
        for held in self.held_locks():
            if dead(held) and self._guard(lambda: self._delete_if_held_by(held.name, held.holder), 0):
                self._guard(lambda: self.client.hdel(self._owners_key(), held.name), 0)
                freed.append(held)
        return freed

    _DELETE_IF_HOLDER = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

    def _delete_if_held_by(self, lock_name: str, holder: bytes | str) -> int:
        return int(self.client.eval(self._DELETE_IF_HOLDER, 1, lock_name, holder))

    def held_locks(self) -> list["HeldLock"]:
        """Every step lock of this installation in Redis, with its holder, the process and
        flow run that took it, and its time left. Notes of locks gone are dropped."""
        def scan() -> list[HeldLock]:
            found = []
            owners = {name.decode(): json.loads(value) for name, value in self.client.hgetall(self._owners_key()).items()}
            for name in list(owners):
                holder, ttl_ms = self.client.get(name), self.client.pttl(name)
                owner = owners.pop(name)
                if holder is None or holder.decode(errors="replace") != owner["holder"]:
                    self.client.hdel(self._owners_key(), name)  # released or expired
                    continue
                found.append(HeldLock(name, owner["holder"], max(0, ttl_ms) / 1000, owner["host"], owner["pid"],
                                      owner.get("flow_run_id")))
            return found

        return self._guard(scan, [])

    # ------------------------------------------------------------------ passthrough, Redis optional
    def release_lock(self, key: str, holder: str) -> None:
        def release() -> None:
            super(StepLockManager, self).release_lock(key, holder)
            self.client.hdel(self._owners_key(), self._lock_name_for_key(key))

        self._guard(release, None)

    def wait_for_lock(self, key: str, timeout: float | None = None) -> bool:
        return self._guard(lambda: super(StepLockManager, self).wait_for_lock(key, timeout), True)

    def is_locked(self, key: str) -> bool:
        return self._guard(lambda: super(StepLockManager, self).is_locked(key), False)

    def is_lock_holder(self, key: str, holder: str) -> bool:
        return self._guard(lambda: super(StepLockManager, self).is_lock_holder(key, holder), True)


@dataclass(frozen=True)
class HeldLock:
    name: str
    holder: str  # Prefect's transaction holder id
    seconds_left: float
    host: str
    pid: int
    flow_run_id: str | None

    def holder_is_dead(self) -> bool:
        if self.host != socket.gethostname():
            return False  # another machine's: its TTL frees it
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False


_managers: dict[tuple[str | None, float | None], StepLockManager] = {}
_managers_lock = threading.Lock()


def lock_manager(url: str | None = None, ttl_seconds: float | None = None) -> StepLockManager:
    """One manager per Redis URL (its connection pool is shared by every step); with no
    arguments, the one that follows the settings."""
    key = (url, ttl_seconds)
    with _managers_lock:
        if key not in _managers:
            _managers[key] = StepLockManager(url, ttl_seconds)
        return _managers[key]
