"""Prefect flows. ``from flows import video_flow``."""

from ytmaker.prefect_env import apply_defaults

apply_defaults()

from flows.video import video_flow  # noqa: E402

__all__ = ["video_flow"]
