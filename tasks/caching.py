"""Cache policy for every pipeline step: resume by result caching.

The key is the task's inputs (project id, the slice of the script it works on, the hashes
of the files it reads, the provider's name) plus its source code. Nothing about the run.

One more rule: a step whose output files have been deleted since it ran is run again
rather than trusted. A key can't depend on whether the outputs exist (the first run, before
they exist, must store under the same key a later run looks up), so a rebuilt result goes
to the next "generation" of the key: ``key``, ``key-g1``, ``key-g2``... Lookups use the
newest generation that exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy
from prefect.transactions import IsolationLevel

from ytmaker.locks import lock_manager
from ytmaker.paths import ProjectPaths
from ytmaker.settings import get_settings

OutputsFn = Callable[[ProjectPaths, dict[str, Any]], list[Path]]
MAX_GENERATIONS = 50


@dataclass
class StepCache(CachePolicy):
    inputs_policy: CachePolicy = field(default_factory=lambda: INPUTS + TASK_SOURCE)
    outputs: OutputsFn | None = None

    def compute_key(self, task_ctx, inputs, flow_parameters, **kwargs):  # noqa: ANN001
        base = self.inputs_policy.compute_key(task_ctx=task_ctx, inputs=inputs, flow_parameters=flow_parameters, **kwargs)
        if base is None or self.outputs is None or "project_id" not in inputs:
            return base
        store = task_ctx.result_store
        newest = None
        for generation in range(MAX_GENERATIONS):
            key = base if generation == 0 else f"{base}-g{generation}"
            if not store.exists(key):
                break
            newest = generation
        if newest is None:
            return base  # never ran: compute and store under the plain key
        paths = ProjectPaths.for_project(get_settings().projects_dir, int(inputs["project_id"]))
        present = all(p.exists() for p in self.outputs(paths, inputs))
        generation = newest if present else newest + 1
        return base if generation == 0 else f"{base}-g{min(generation, MAX_GENERATIONS)}"


def step_cache(outputs: OutputsFn | None = None) -> CachePolicy:
    """Serializable isolation: when two runs (two workers) reach the same step, one computes
    it and the other waits for the lock, then takes the stored result."""
    settings = get_settings()
    return StepCache(outputs=outputs).configure(
        isolation_level=IsolationLevel.SERIALIZABLE,
        lock_manager=lock_manager(settings.redis_url, settings.lock_hold_seconds),
    )
