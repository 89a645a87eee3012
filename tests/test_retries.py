"""Provider steps retry transient failures and fail at once on the rest (real Prefect retries)."""

from __future__ import annotations

import time
import uuid

import pytest
from prefect import flow

from tasks.script import write_script
from ytmaker.core.paths import ProjectPaths
from ytmaker.core.settings import get_settings
from ytmaker import providers
from ytmaker.providers.errors import ProviderError
from ytmaker.providers.local_script import LocalScriptWriter
from ytmaker.core.script import ScriptLimits, ScriptRequest

pytestmark = pytest.mark.usefixtures("prefect_harness")


class _ScriptedWriter:
    """Raises the queued errors first, then writes a real script."""

    queue: list[BaseException] = []
    calls = 0

    def write(self, request):  # noqa: ANN001
        type(self).calls += 1
        if self.queue:
            raise self.queue.pop(0)
        return LocalScriptWriter().write(request)


providers.register("script", "test-scripted", lambda settings: _ScriptedWriter(), _ScriptedWriter)


@flow
def _script_only(request: ScriptRequest):
    return write_script(ProjectPaths.for_project(get_settings().projects_dir, request.project_id), request, "test-scripted")


def _request(en_content: str) -> ScriptRequest:
    # A unique title: no cached result from another test can answer.
    return ScriptRequest(project_id=1, title=f"retry {uuid.uuid4().hex[:8]}", content=en_content,
                         language="en", limits=ScriptLimits(min_total=20))


def test_transient_failure_is_retried_after_the_planned_delay(en_content):
    _ScriptedWriter.calls = 0
    _ScriptedWriter.queue = [ProviderError("GEMINI", "SERVER_ERROR", status=503)]
    start = time.monotonic()
    state = _script_only(_request(en_content), return_state=True)
    assert state.is_completed(), state.message
    assert _ScriptedWriter.calls == 2
    assert time.monotonic() - start >= 2.0  # the first retry waits 2 s


def test_retry_after_longer_than_the_delay_is_honoured(en_content):
    _ScriptedWriter.calls = 0
    _ScriptedWriter.queue = [ProviderError("GEMINI", "RATE_LIMITED", status=429, retry_after=3.5)]
    start = time.monotonic()
    assert _script_only(_request(en_content), return_state=True).is_completed()
    assert _ScriptedWriter.calls == 2 and time.monotonic() - start >= 3.5


@pytest.mark.parametrize("kind,status", [("AUTH", 401), ("FORBIDDEN", 403), ("BAD_REQUEST", 400),
                                         ("CONTENT_POLICY", 403), ("QUOTA_EXCEEDED", 429)])
def test_permanent_failure_fails_at_once(en_content, kind, status):
    _ScriptedWriter.calls = 0
    _ScriptedWriter.queue = [ProviderError("GEMINI", kind, status=status)] * 4
    state = _script_only(_request(en_content), return_state=True)
    assert state.is_failed()
    assert _ScriptedWriter.calls == 1
    with pytest.raises(ProviderError) as err:
        state.result()
    assert err.value.code == f"GEMINI_{kind}"
    if kind == "AUTH":
        assert "GEMINI_API_KEY" in err.value.message
