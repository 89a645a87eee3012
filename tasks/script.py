"""Stage 1: the script."""

from __future__ import annotations

from tasks.caching import step_cache
from tasks.providers import provider_named
from tasks.step import pipeline_step
from ytmaker.core.paths import ProjectPaths
from ytmaker.core.script import Script, ScriptRequest, validate_script


@pipeline_step("write-script", stage="script_generation", calls_provider=True,
               cache=step_cache(code=("ytmaker.core.script",), provider="script"))
def write_script(project: ProjectPaths, request: ScriptRequest, provider: str) -> Script:
    """Write the script with the configured provider and validate it (durations, numbering)."""
    script = provider_named("script", provider).write(request)
    return validate_script(script, request.limits, project_id=project.project_id)
