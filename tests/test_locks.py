"""The cross-worker step locks (``ytmaker.locks``) against a real Redis."""

from __future__ import annotations

import logging
import os
import time
import uuid

import redis

from ytmaker.locks import StepLockManager

URL = os.environ["REDIS_URL"]


def test_a_lock_expires_after_the_hold_timeout_so_a_dead_holder_blocks_nobody_for_long():
    locks = StepLockManager(URL, hold_seconds=1.0)
    key = f"test-{uuid.uuid4().hex}"
    assert locks.acquire_lock(key, holder="dead-worker")
    assert not locks.acquire_lock(key, holder="other", acquire_timeout=0.2)
    assert 0 < redis.Redis.from_url(URL).pttl(f"lock:{key}") <= 1000
    time.sleep(1.2)
    assert locks.acquire_lock(key, holder="other", acquire_timeout=0.2)
    locks.release_lock(key, holder="other")
    assert not locks.is_locked(key)


def test_release_locks_of_run_frees_only_that_runs_locks(prefect_harness):
    from prefect import flow, task

    locks = StepLockManager(URL, hold_seconds=60)
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


def test_without_redis_steps_run_unlocked_with_one_warning(caplog):
    locks = StepLockManager("redis://127.0.0.1:1/0", hold_seconds=60)
    with caplog.at_level(logging.WARNING, logger="ytmaker.locks"):
        assert locks.acquire_lock("k", holder="h")
        locks.release_lock("k", holder="h")
        assert locks.wait_for_lock("k", timeout=1)
        assert locks.acquire_lock("k2", holder="h")
    warnings = [r for r in caplog.records if "without cross-worker locks" in r.getMessage()]
    assert len(warnings) == 1
