"""The pipeline's stages, in order: the one list everything else derives from.

Project statuses (``ProjectStatus``), the statuses that mean "a run is in progress", the stage
names in progress messages and ``error_info``, the Prefect UI's progress artifact, the CLI's
progress bars and the timeout hint of a stage all come from ``PIPELINE``. Adding a stage is
one entry here plus its task and its line in ``flows/video.py``.

(A *provider kind* — script, tts, image, avatar, publish — is another thing: which service
makes an asset. See ``ytmaker.providers.PROVIDER_KINDS``.)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    name: str  # in progress messages, error_info["stage"], artifacts: "video_rendering"
    label: str  # for people: CLI bars, the web page
    running: str  # the project's status while the stage runs
    done: str  # ... and once it is done
    weight: float  # its share of a whole run's progress (the UI's overall bar)
    timeout_setting: str | None = None  # the setting bounding its step, named in timeout errors


PIPELINE: tuple[Stage, ...] = (
    Stage("script_generation", "Script", "SCRIPT_GENERATING", "SCRIPT_GENERATED", weight=10),
    Stage("asset_generation", "Assets", "ASSETS_GENERATING", "ASSETS_GENERATED", weight=40),
    Stage("video_rendering", "Render", "RENDERING", "RENDERED", weight=30,
          timeout_setting="YTMAKER_RENDER_TIMEOUT_SECONDS"),
    Stage("thumbnail_generation", "Thumbnail", "THUMBNAIL_GENERATING", "THUMBNAIL_GENERATED", weight=5),
    Stage("youtube_upload", "Publish", "UPLOADING", "COMPLETED", weight=15,
          timeout_setting="YTMAKER_UPLOAD_TIMEOUT_SECONDS"),
)
STAGES: dict[str, Stage] = {stage.name: stage for stage in PIPELINE}
# Not a stage: the name progress messages use for the end of a failed or cancelled run.
ERROR_STAGE = "error"


def stage_named(name: str) -> Stage:
    try:
        return STAGES[name]
    except KeyError:
        raise ValueError(f"unknown stage {name!r}; stages are {list(STAGES)}") from None


def progress_before(name: str) -> float:
    """Percent of a whole run done when stage ``name`` starts (from the stage weights)."""
    total = sum(stage.weight for stage in PIPELINE)
    done = 0.0
    for stage in PIPELINE:
        if stage.name == name:
            return 100.0 * done / total
        done += stage.weight
    raise ValueError(f"unknown stage {name!r}")


def progress_after(name: str) -> float:
    return progress_before(name) + 100.0 * stage_named(name).weight / sum(stage.weight for stage in PIPELINE)


def _statuses() -> list[str]:
    names = ["INITIALIZED"]
    for stage in PIPELINE:
        names += [s for s in (stage.running, stage.done) if s not in names and s != "COMPLETED"]
    # WAITING_FOR_QUOTA: rendered, and a run is scheduled for the YouTube quota reset.
    return names + ["WAITING_FOR_QUOTA", "COMPLETED", "FAILED", "CANCELLED"]


ProjectStatus = enum.Enum("ProjectStatus", [(name, name) for name in _statuses()], type=str, module=__name__)  # type: ignore[misc]
ProjectStatus.__doc__ = "A project's status: INITIALIZED, each stage's running and done status, then the end states."

# A project in one of these statuses has (or had, if its worker died) a run in progress:
# every stage's running status and every done status but the last.
RUNNING_STATUSES = frozenset(
    ProjectStatus(s) for stage in PIPELINE for s in (stage.running, stage.done) if s != PIPELINE[-1].done
)
