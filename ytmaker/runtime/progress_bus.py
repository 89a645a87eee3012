"""Progress messages on Redis: pub/sub for live listeners, a capped stream for late ones.

Publishing never raises: with Redis down the video is still made and one warning is
logged (again only after Redis has come back and gone away again).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import redis

from ytmaker.core.settings import get_settings

log = logging.getLogger("ytmaker.progress")

_clients: dict[str, redis.Redis] = {}
_down_since: dict[str, float] = {}
_lock = threading.Lock()
RETRY_AFTER_SECONDS = 30.0


def channel_name(key: int | str) -> str:
    return f"progress:{key}"


def stream_name(key: int | str) -> str:
    return f"progress-log:{key}"


def redis_client(url: str) -> redis.Redis:
    with _lock:
        client = _clients.get(url)
        if client is None:
            # Short timeouts: a missing Redis must not slow the pipeline down.
            client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2, decode_responses=True)
            _clients[url] = client
        return client


def _redacted(url: str) -> str:
    return get_settings().public_summary()["redis"] if url == get_settings().redis_url else "redis"


def publish(key: int | str, stage: str, progress: float, message: str, **extra: Any) -> dict[str, Any] | None:
    """Publish one message for a project (or ``batch:{id}``); returns it, or None if Redis is down."""
    settings = get_settings()
    url = settings.redis_url
    payload: dict[str, Any] = {
        "project_id": key,
        "stage": stage,
        "progress": round(float(progress), 1),
        "message": message,
        "timestamp": datetime.now(ZoneInfo(settings.timezone)).isoformat(timespec="milliseconds"),
        **{k: v for k, v in extra.items() if v is not None},
    }
    down = _down_since.get(url)
    if down is not None and time.monotonic() - down < RETRY_AFTER_SECONDS:
        return None
    try:
        client = redis_client(url)
        entry_id = client.xadd(
            stream_name(key), {"data": json.dumps(payload, ensure_ascii=False)},
            maxlen=settings.progress_history, approximate=True,
        )
        payload["id"] = entry_id
        client.publish(channel_name(key), json.dumps(payload, ensure_ascii=False))
    except redis.RedisError as exc:
        with _lock:
            first = url not in _down_since
            _down_since[url] = time.monotonic()
        if first:
            log.warning(
                "Progress is not being published: Redis at %s is unreachable (%s). The run goes on; "
                "start Redis (make redis) to watch progress.", _redacted(url), exc.__class__.__name__,
            )
        return None
    with _lock:
        if _down_since.pop(url, None) is not None:
            log.info("Redis is reachable again; progress publishing resumed.")
    return payload


def reset_history(key: int | str) -> None:
    """A new run starts a new history: late subscribers replay only the current run."""
    url = get_settings().redis_url
    down = _down_since.get(url)
    if down is not None and time.monotonic() - down < RETRY_AFTER_SECONDS:
        return
    try:
        redis_client(url).delete(stream_name(key))
    except redis.RedisError:
        pass  # publish() reports the outage once


def _id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def subscribe_progress(
    project_id: int | str,
    *,
    replay: bool = True,
    timeout: float | None = None,
    until_final: bool = True,
    redis_url: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield progress messages for a project: with ``replay`` the current run's history
    first, then live ones, in order and without duplicates. Stops after the run's final
    message (``until_final``) or after ``timeout`` seconds with no message."""
    client = redis.Redis.from_url(redis_url or get_settings().redis_url, decode_responses=True)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel_name(project_id))  # subscribe before reading history: nothing falls between
    last = (0, 0)
    try:
        if replay:
            for entry_id, fields in client.xrange(stream_name(project_id)):
                message = json.loads(fields["data"])
                message["id"] = entry_id
                last = _id_tuple(entry_id)
                yield message
                if until_final and message.get("final"):
                    return
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            raw = pubsub.get_message(timeout=wait)
            if raw is None:
                if deadline is not None and time.monotonic() >= deadline:
                    return
                continue
            message = json.loads(raw["data"])
            if "id" in message and _id_tuple(message["id"]) <= last:
                continue  # already replayed
            if "id" in message:
                last = _id_tuple(message["id"])
            if deadline is not None:
                deadline = time.monotonic() + timeout  # timeout counts from the last message
            yield message
            if until_final and message.get("final"):
                return
    finally:
        pubsub.close()
        client.close()
