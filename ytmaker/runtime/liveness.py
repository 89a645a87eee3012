"""Which projects have a live run: a heartbeat key per running project in Redis.

A running ``video_flow`` sets ``alive:{project_id}`` to its flow run id every
``YTMAKER_HEARTBEAT_SECONDS`` with an expiry of three beats. A worker that is killed stops
beating, the key expires, and recovery sees a project whose status says "running" with
nothing running it. This works the same whichever worker, process or machine ran it, and
does not depend on the Prefect server noticing the crash.
"""

from __future__ import annotations

import logging
import threading

import redis

from ytmaker.runtime.progress_bus import redis_client
from ytmaker.core.settings import get_settings

log = logging.getLogger("ytmaker.liveness")
MISSED_BEATS = 3

_beats: dict[int, tuple[threading.Event, str]] = {}
_lock = threading.Lock()


def alive_key(project_id: int) -> str:
    return f"alive:{project_id}"


def _beat(project_id: int, run_id: str, stop: threading.Event, interval: float, url: str) -> None:
    ttl = max(1, round(interval * MISSED_BEATS))
    while True:
        try:
            redis_client(url).set(alive_key(project_id), run_id, ex=ttl)
        except redis.RedisError:
            pass  # progress publishing already warns about an unreachable Redis
        if stop.wait(interval):
            return


def start_heartbeat(project_id: int, run_id: str) -> None:
    settings = get_settings()
    stop = threading.Event()
    with _lock:
        previous = _beats.pop(project_id, None)
        if previous:
            previous[0].set()
        _beats[project_id] = (stop, run_id)
    threading.Thread(
        target=_beat, args=(project_id, run_id, stop, settings.heartbeat_seconds, settings.redis_url),
        name=f"heartbeat-{project_id}", daemon=True,
    ).start()


def stop_heartbeat(project_id: int, run_id: str | None = None) -> None:
    """Stop beating and drop the key (only this run's key: a newer run may own it now)."""
    with _lock:
        entry = _beats.get(project_id)
        if entry and (run_id is None or entry[1] == run_id):
            entry[0].set()
            del _beats[project_id]
    try:
        client = redis_client(get_settings().redis_url)
        if run_id is None or client.get(alive_key(project_id)) == run_id:
            client.delete(alive_key(project_id))
    except redis.RedisError:
        pass


def live_run(project_id: int) -> str | None:
    """The flow run id beating for this project, or None. Raises if Redis can't be read."""
    return redis_client(get_settings().redis_url).get(alive_key(project_id))


def claim(project_id: int, run_id: str, seconds: float) -> None:
    """Mark a run as on its way (submitted, not yet started) so a second recovery pass
    does not start the project twice; the run's own heartbeat replaces the claim. The run id
    is also kept for a day (``submitted_run``): a run still waiting in a queue when the
    claim runs out must not be doubled either."""
    client = redis_client(get_settings().redis_url)
    client.set(alive_key(project_id), run_id, ex=max(1, round(seconds)))
    client.set(_submitted_key(project_id), run_id, ex=24 * 3600)


def _submitted_key(project_id: int) -> str:
    return f"recovery-run:{project_id}"


def submitted_run(project_id: int) -> str | None:
    """The run recovery last submitted for this project (None after a day)."""
    return redis_client(get_settings().redis_url).get(_submitted_key(project_id))
