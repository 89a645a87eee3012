"""Errors a user can act on. Each carries a stable code, the stage and structured details."""

from __future__ import annotations

from typing import Any


class YtmakerError(Exception):
    """Base error: ``code`` is stable and documented, ``message`` says what to do."""

    code = "YTMAKER_ERROR"
    retryable = False

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}

    def to_info(self, stage: str) -> dict[str, Any]:
        return {"stage": stage, "code": self.code, "message": self.message, "details": self.details}


class ProjectNotFound(YtmakerError):
    code = "PROJECT_NOT_FOUND"


class InvalidProject(YtmakerError):
    code = "PROJECT_INVALID"


class ScriptValidationError(YtmakerError):
    code = "SCRIPT_INVALID"


class ProviderNotFound(YtmakerError):
    code = "PROVIDER_UNKNOWN"


class MediaToolError(YtmakerError):
    """ffmpeg/espeak-ng failed or is missing."""

    code = "MEDIA_TOOL_FAILED"


def error_info(exc: BaseException, stage: str) -> dict[str, Any]:
    """The project's ``error_info`` for any exception (unknown ones get a generic code)."""
    if isinstance(exc, YtmakerError):
        return exc.to_info(stage)
    if isinstance(exc, TimeoutError):
        from ytmaker.core.stages import STAGES

        setting = STAGES[stage].timeout_setting if stage in STAGES else None
        return {
            "stage": stage,
            "code": "STEP_TIMEOUT",
            "message": f"{stage.replace('_', ' ')} did not finish in time ({exc})"
            + (f"; raise {setting} if the project really needs longer" if setting else ""),
            "details": {"setting": setting} if setting else {},
        }
    return {
        "stage": stage,
        "code": "INTERNAL_ERROR",
        "message": f"{type(exc).__name__}: {exc}",
        "details": {},
    }

