"""Prefect tasks, one per pipeline step, and progress. ``from tasks import subscribe_progress``."""

from ytmaker.prefect_env import apply_defaults

apply_defaults()

from ytmaker.progress_bus import subscribe_progress  # noqa: E402

__all__ = ["subscribe_progress"]
