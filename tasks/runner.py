"""The thread pool a video run's steps share, sized when the run starts."""

from __future__ import annotations

from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner

from ytmaker.core.settings import get_settings
from ytmaker.runtime.memory import limit_malloc_arenas


class StepThreadPool(ThreadPoolTaskRunner):
    """``ThreadPoolTaskRunner`` whose size is read from ``YTMAKER_TASK_WORKERS`` when a run
    starts, not when the flow's module is imported (a flow decorator's arguments are)."""

    def __init__(self, max_workers: int | None = None) -> None:
        super().__init__(max_workers=max_workers or 1)
        self._fixed_size = max_workers

    def duplicate(self) -> "StepThreadPool":
        return type(self)(self._fixed_size)

    def __enter__(self) -> Any:
        limit_malloc_arenas()  # before the step threads start (a plain Python call, a worker's run)
        if self._fixed_size is None:
            self._max_workers = get_settings().task_workers
        return super().__enter__()
