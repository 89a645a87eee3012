"""``pipeline_step``: the one way a pipeline step becomes a Prefect task.

Every step shares the same options — a persisted result under its ``step_cache`` policy,
progress hooks for its stage, and for provider calls the retry rules — and the same
contract: its first parameter is ``project`` (a ``ProjectPaths``), which says whose step it
is and where its files go. ``item`` names what one call works on, for progress messages.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, TypeVar

from prefect import task
from prefect.cache_policies import CachePolicy

from tasks.progress import stage_hooks
from tasks.retry import PROVIDER_RETRIES
from ytmaker.core.paths import ProjectPaths

F = TypeVar("F", bound=Callable[..., Any])


def pipeline_step(
    name: str,
    *,
    stage: str,
    cache: CachePolicy,
    calls_provider: bool = False,
    item: Callable[[dict[str, Any]], str] | None = None,
) -> Callable[[F], Any]:
    """Make ``fn`` the task ``name`` of ``stage``.

    ``calls_provider``: the step calls a provider, so transient failures are retried
    (``tasks.retry``). ``item(arguments)`` says which item a call made ("segment 3"); by
    default the task's name alone."""

    def decorate(fn: F) -> Any:
        first = next(iter(inspect.signature(fn).parameters.values()), None)
        if first is None or first.name != "project" or first.annotation not in (ProjectPaths, "ProjectPaths"):
            raise TypeError(f"{fn.__qualname__}: a pipeline step's first parameter is `project: ProjectPaths`")

        def describe(arguments: dict[str, Any]) -> str:
            return f"{name} {item(arguments)}" if item else name

        return task(
            name=name,
            cache_policy=cache,
            persist_result=True,
            **(PROVIDER_RETRIES if calls_provider else {}),
            **stage_hooks(stage, describe),
        )(fn)

    return decorate
