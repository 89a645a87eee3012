"""The cross-worker step locks (``tasks.locking``) against a real Redis: leases renewed while
their process lives, gone soon after it is killed, namespaced per installation."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import redis

from tasks.locking import StepLockManager
from ytmaker.core.settings import get_settings

URL = os.environ["REDIS_URL"]


def _lock_name(key: str) -> str:
    return f"ytmaker:{get_settings().namespace}:lock:{key}"


def test_a_held_lock_is_renewed_while_its_process_lives():
    locks = StepLockManager(URL, ttl_seconds=3)
    key = f"test-{uuid.uuid4().hex}"
    assert locks.acquire_lock(key, holder="me")
    time.sleep(4.5)  # longer than the TTL: only renewal keeps it
    assert locks.is_locked(key)
    assert redis.Redis.from_url(URL).pttl(_lock_name(key)) > 0
    assert not locks.acquire_lock(key, holder="other", acquire_timeout=0.2)
    locks.release_lock(key, holder="me")
    assert not locks.is_locked(key)


HOLDER = textwrap.dedent("""
    import os, socket, sys, threading, time
    from tasks.locking import StepLockManager
    locks = StepLockManager(os.environ["REDIS_URL"], ttl_seconds=3)
    holder = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:MainThread"
    assert locks.acquire_lock(sys.argv[1], holder=holder)
    print("held", flush=True)
    time.sleep(600)
""")


def _start_holder(key: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, key], stdout=subprocess.PIPE, text=True,
                            start_new_session=True, env=os.environ.copy())
    assert proc.stdout.readline().strip() == "held"
    return proc


def _kill(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_the_lock_of_a_killed_process_expires_by_itself():
    key = f"test-{uuid.uuid4().hex}"
    proc = _start_holder(key)
    waiter = StepLockManager(URL, ttl_seconds=3)
    time.sleep(4.5)
    assert waiter.is_locked(key), "the living holder renews its lock past the TTL"
    _kill(proc)
    # Nobody cleans up: the waiter gets the lock once the dead holder's lease runs out.
    assert waiter.acquire_lock(key, holder="next", acquire_timeout=60)
    waiter.release_lock(key, holder="next")


def test_doctor_frees_a_dead_holders_lock_at_once_and_leaves_living_ones():
    dead_key, live_key = f"dead-{uuid.uuid4().hex}", f"live-{uuid.uuid4().hex}"
    dead, live = _start_holder(dead_key), _start_holder(live_key)
    try:
        _kill(dead)
        locks = StepLockManager(URL, ttl_seconds=3)
        names = {h.name for h in locks.held_locks()}
        assert {_lock_name(dead_key), _lock_name(live_key)} <= names
        freed = {h.name for h in locks.release_dead_locks()}
        assert _lock_name(dead_key) in freed and _lock_name(live_key) not in freed
        assert not locks.is_locked(dead_key) and locks.is_locked(live_key)
    finally:
        _kill(live)


def test_installations_sharing_one_redis_do_not_block_each_other(env):
    key = f"same-{uuid.uuid4().hex}"
    env(YTMAKER_NAMESPACE="staging")
    staging = StepLockManager(URL, ttl_seconds=30)
    assert staging.acquire_lock(key, holder="a")
    env(YTMAKER_NAMESPACE="production")
    production = StepLockManager(URL, ttl_seconds=30)
    assert production.acquire_lock(key, holder="b", acquire_timeout=0.5)
    production.release_lock(key, holder="b")
    env(YTMAKER_NAMESPACE="staging")
    assert staging.is_locked(key)
    staging.release_lock(key, holder="a")


def test_the_default_namespace_follows_the_database(env):
    env(DATABASE_URL="sqlite:////tmp/one.db")
    first = get_settings().namespace
    env(DATABASE_URL="sqlite:////tmp/two.db")
    assert get_settings().namespace != first


def test_release_locks_of_run_frees_only_that_runs_locks(prefect_harness):
    from prefect import flow, task

    locks = StepLockManager(URL, ttl_seconds=60)
    mine, theirs = f"mine-{uuid.uuid4().hex}", f"theirs-{uuid.uuid4().hex}"

    @task
    def hold(key: str) -> str:
        from prefect.context import TaskRunContext

        assert locks.acquire_lock(key, holder="h1")
        return str(TaskRunContext.get().task_run.flow_run_id)

    @flow
    def a_run() -> str:
        return hold(mine)

    run_id = a_run()
    assert locks.acquire_lock(theirs, holder="h2")  # outside any run: no owner recorded
    assert locks.release_locks_of_run(run_id) == 1
    assert not locks.is_locked(mine) and locks.is_locked(theirs)
    locks.release_lock(theirs, holder="h2")


def test_a_killed_holders_lock_is_freed_at_once_and_a_live_ones_is_kept(tmp_path):
    """A real process takes a lock and is killed (SIGKILL to its group): the lock names a
    dead process of this host, and release_dead_locks frees it long before its TTL."""
    import os
    import signal
    import subprocess
    import sys

    dead_key, live_key = f"dead-{uuid.uuid4().hex}", f"live-{uuid.uuid4().hex}"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from tasks.locking import StepLockManager\n"
         f"assert StepLockManager({URL!r}, ttl_seconds=300).acquire_lock({dead_key!r}, holder='h-dead')\n"
         "print('held', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True, start_new_session=True, env={**os.environ},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        locks = StepLockManager(URL, ttl_seconds=300)
        assert locks.acquire_lock(live_key, holder="h-live")
        (held,) = [h for h in locks.held_locks() if h.name.endswith(dead_key)]
        assert held.pid == holder.pid and not held.holder_is_dead()
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
        freed = locks.release_dead_locks()
        assert [h.name for h in freed if h.name.endswith((dead_key, live_key))] == [held.name]
        assert not locks.is_locked(dead_key) and locks.is_locked(live_key)
        locks.release_lock(live_key, holder="h-live")
        assert not [h for h in locks.held_locks() if h.name.endswith((dead_key, live_key))]
    finally:
        if holder.poll() is None:
            os.killpg(holder.pid, signal.SIGKILL)


def test_without_redis_steps_run_unlocked_with_one_warning(caplog):
    locks = StepLockManager("redis://127.0.0.1:1/0", ttl_seconds=60)
    with caplog.at_level(logging.WARNING, logger="ytmaker.locks"):
        assert locks.acquire_lock("k", holder="h")
        locks.release_lock("k", holder="h")
        assert locks.wait_for_lock("k", timeout=1)
        assert locks.acquire_lock("k2", holder="h")
    warnings = [r for r in caplog.records if "without cross-worker locks" in r.getMessage()]
    assert len(warnings) == 1
