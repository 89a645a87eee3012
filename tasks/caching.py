"""Cache policy for every pipeline step: resume by result caching.

The key is the task's inputs (project id, the slice of the script it works on, the hashes
of the files it reads, the provider's name) plus its source code. Nothing about the run.
``OutputsPresent`` adds one rule: if a file the step made has been deleted since, the
step runs again instead of returning a result that points at nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy

from ytmaker.paths import ProjectPaths
from ytmaker.settings import get_settings


@dataclass
class OutputsPresent(CachePolicy):
    outputs: Callable[[ProjectPaths, dict[str, Any]], list[Path]] | None = None

    def compute_key(self, task_ctx, inputs, flow_parameters, **kwargs):  # noqa: ANN001
        if self.outputs is None or "project_id" not in inputs:
            return None
        paths = ProjectPaths.for_project(get_settings().projects_dir, int(inputs["project_id"]))
        if all(p.exists() for p in self.outputs(paths, inputs)):
            return "outputs-present"
        return f"outputs-missing-{uuid.uuid4().hex}"


def step_cache(outputs: Callable[[ProjectPaths, dict[str, Any]], list[Path]] | None = None) -> CachePolicy:
    policy = INPUTS + TASK_SOURCE
    if outputs is not None:
        policy = policy + OutputsPresent(outputs=outputs)
    return policy
