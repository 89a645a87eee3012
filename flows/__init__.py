"""Prefect flows. ``from flows import video_flow``."""

from ytmaker.prefect_env import apply_defaults

apply_defaults()

from flows.batch import batch_flow  # noqa: E402
from flows.cleanup import cleanup_flow  # noqa: E402
from flows.quota import quota_flow  # noqa: E402
from flows.recover import recover_flow, recover_interrupted_tasks  # noqa: E402
from flows.regenerate import regenerate_image_flow  # noqa: E402
from flows.video import video_flow  # noqa: E402

__all__ = ["batch_flow", "cleanup_flow", "quota_flow", "recover_flow", "recover_interrupted_tasks", "regenerate_image_flow", "video_flow"]
