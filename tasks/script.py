"""Stage 1: the script."""

from __future__ import annotations

from prefect import task

from tasks.caching import step_cache
from tasks.retry import PROVIDER_RETRIES
from tasks.progress import stage_hooks
from ytmaker.providers import get_provider
from ytmaker.core.script import Script, ScriptRequest, validate_script
from ytmaker.core.settings import get_settings


@task(
    name="write-script",
    **PROVIDER_RETRIES,
    cache_policy=step_cache(code=("ytmaker.core.script",), provider="script"),
    persist_result=True,
    **stage_hooks("script_generation"),
)
def write_script(project_id: int, request: ScriptRequest, provider: str) -> Script:
    """Write the script with the configured provider and validate it (durations, numbering)."""
    script = get_provider("script", get_settings(), provider).write(request)
    return validate_script(script, request.limits, project_id=project_id)
