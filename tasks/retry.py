"""Retries for steps that call a provider: the seed's rules, run by Prefect.

Retryable failures (HTTP 429/5xx, timeouts, connection errors) are retried up to 3 times
after 2 s, 5 s and 10 s — longer when the service sent a ``Retry-After``. Everything else
(400, 401, 403, content policy, quota, local errors) fails at once.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ytmaker.providers.errors import RETRY_DELAYS_SECONDS

log = logging.getLogger("ytmaker.retry")
MAX_RETRY_AFTER_SECONDS = 120.0


def _exception(state: Any) -> BaseException | None:
    try:
        result = state.result(raise_on_failure=False)
    except BaseException as exc:  # noqa: BLE001 - some states raise instead of returning
        return exc
    return result if isinstance(result, BaseException) else None


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    exc = _exception(state)
    if not getattr(exc, "retryable", False):
        return False
    attempt = min(task_run.run_count, len(RETRY_DELAYS_SECONDS)) - 1
    planned = RETRY_DELAYS_SECONDS[max(0, attempt)]
    retry_after = getattr(exc, "retry_after", None)
    if retry_after and retry_after > planned:
        # Prefect waits the planned delay; the service asked for longer, so wait the rest here.
        time.sleep(min(retry_after, MAX_RETRY_AFTER_SECONDS) - planned)
    log.warning("%s: %s; retrying", task.name, exc)
    return True


PROVIDER_RETRIES: dict[str, Any] = {
    "retries": len(RETRY_DELAYS_SECONDS),
    "retry_delay_seconds": list(RETRY_DELAYS_SECONDS),
    "retry_condition_fn": retry_if_transient,
}
