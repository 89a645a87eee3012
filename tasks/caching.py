"""Cache policy for every pipeline step: resume by result caching.

One place decides what a step's key is, and one place decides whether a stored result is
still true.

**The key** (``StepCache.compute_key``) is made of

* the task's arguments (Prefect's ``INPUTS``: the project id, the slice of the script the step
  works on, the SHA-256 of every file it reads, which come inside the argument models) and the
  task's own source (``TASK_SOURCE``);
* what the step declares in ``step_cache(...)``: the code of the ``ytmaker`` modules that do
  its work and everything they import (``code``), the settings that change its output
  (``settings``, e.g. the x264 CRF), the fonts it draws text with (``fonts``), and for a
  provider step the provider's name, code and ``OUTPUT_SETTINGS`` (a voice, a model).

Nothing about the run is in it (no run id, no time), so a rerun finds the same keys.

**A stored result is true** (``result_is_true``) when the file the result itself names (a
step that makes a file returns a ``FileRef``) exists and still has the SHA-256 the result
recorded. Project files live at fixed paths, so another
version of the project (an edit A → B → A), a deleted file or a half-written one all fail
this check. Files the result merely carries along from its inputs (a narration's parts) are
not checked here: the step that made them checks them.

A key cannot depend on the files (the first run, before they exist, must store under the
key a later run looks up), so a result that is no longer true is replaced in the next
"generation" of its key: ``key``, ``key-g1``, ``key-g2``… The first generation that is absent
or true is used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy
from prefect.transactions import IsolationLevel
from prefect.utilities.hashing import hash_objects

from ytmaker.core.fingerprint import code_digest, setting_values
from ytmaker.media.text import font_identity
from ytmaker.core.hashing import current_sha256
from tasks.locking import lock_manager
from ytmaker.core.media_types import FileRef
from ytmaker.providers import output_fingerprint
from ytmaker.core.settings import get_settings

log = logging.getLogger("ytmaker.caching")
MAX_GENERATIONS = 50


def result_is_true(result: Any) -> bool:
    """A result that names a file (every step that makes one returns a ``FileRef``) is true
    while that file is on disk with the content the result recorded."""
    return not isinstance(result, FileRef) or current_sha256(Path(result.path)) == result.sha256


@dataclass
class StepCache(CachePolicy):
    code: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    provider_kind: str | None = None
    fonts: bool = False
    inputs_policy: CachePolicy = field(default_factory=lambda: INPUTS + TASK_SOURCE)

    def fingerprint(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """What shapes the output besides the arguments (see the module docstring)."""
        settings = get_settings()
        found: dict[str, Any] = {}
        if self.code:
            found["code"] = code_digest(self.code)
        if self.settings:
            found["settings"] = setting_values(settings, self.settings)
        if self.fonts:
            found["fonts"] = font_identity()
        if self.provider_kind:
            found["provider"] = output_fingerprint(self.provider_kind, str(inputs["provider"]), settings)
        return found

    def compute_key(self, task_ctx, inputs, flow_parameters, **kwargs):  # noqa: ANN001
        base = self.inputs_policy.compute_key(task_ctx=task_ctx, inputs=inputs, flow_parameters=flow_parameters, **kwargs)
        if base is None:
            return None
        base = hash_objects(base, self.fingerprint(inputs), raise_on_failure=True)
        store = task_ctx.result_store
        key = base
        for generation in range(MAX_GENERATIONS + 1):
            key = base if generation == 0 else f"{base}-g{generation}"
            if not store.exists(key) or self._still_true(store, key):
                return key
        return key  # every generation stale: the newest is overwritten

    @staticmethod
    def _still_true(store: Any, key: str) -> bool:
        try:
            result = store.read(key).result
        except Exception as exc:  # noqa: BLE001 - a record cut short by a crash is not a result
            log.warning("cached result %s is unreadable (%s): making it again", key, type(exc).__name__)
            return False
        if result_is_true(result):
            return True
        log.info("cached result %s names files that changed since: making it again", key)
        return False


def step_cache(
    *,
    code: tuple[str, ...] = (),
    settings: tuple[str, ...] = (),
    provider: str | None = None,
    fonts: bool = False,
) -> CachePolicy:
    """The cache policy of one step.

    ``code``: modules doing the step's work (their imports are followed); ``settings``: names
    of the settings that change its output; ``provider``: the provider kind whose name the
    task receives as its ``provider`` argument; ``fonts``: the step draws text.

    Serializable isolation: when two runs (two workers) reach the same step, one computes
    it and the other waits for the lock, then takes the stored result."""
    return StepCache(code=code, settings=settings, provider_kind=provider, fonts=fonts).configure(
        isolation_level=IsolationLevel.SERIALIZABLE,
        lock_manager=lock_manager(),
    )
