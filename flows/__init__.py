"""Prefect flows. ``from flows import video_flow``. Importing changes no settings: Prefect's
defaults for this project come from ``pyproject.toml`` ``[tool.prefect]`` and the ``ytmaker`` CLI."""


from flows.batch import batch_flow
from flows.cleanup import cleanup_flow
from flows.quota import quota_flow
from flows.recover import recover_flow, recover_interrupted_tasks
from flows.regenerate import regenerate_image_flow
from flows.video import video_flow

__all__ = ["batch_flow", "cleanup_flow", "quota_flow", "recover_flow", "recover_interrupted_tasks", "regenerate_image_flow", "video_flow"]
