"""Data layer (SQLAlchemy models and store) and the default data root.

Run-time files live beside this package: ``projects/``, ``published/``, ``results/`` and
the SQLite file, all git-ignored.
"""

from data.models import RUNNING_STATUSES, AssetStatus, AssetType, BatchStatus, Privacy, ProjectStatus
from data.store import (
    AssetRecord,
    BatchRecord,
    ProjectRecord,
    batch_project_ids,
    create_batch,
    get_batch,
    image_overrides,
    request_image_remake,
    record_batch_result,
    start_batch_run,
    create_project,
    get_project,
    last_project_run,
    projects_in_status,
    record_project_run,
    list_assets,
    list_projects,
    record_asset,
    set_status,
    update_project,
)

__all__ = [
    "AssetRecord",
    "AssetStatus",
    "AssetType",
    "BatchRecord",
    "BatchStatus",
    "batch_project_ids",
    "create_batch",
    "get_batch",
    "image_overrides",
    "request_image_remake",
    "record_batch_result",
    "start_batch_run",
    "Privacy",
    "ProjectRecord",
    "ProjectStatus",
    "create_project",
    "get_project",
    "last_project_run",
    "projects_in_status",
    "record_project_run",
    "RUNNING_STATUSES",
    "list_assets",
    "list_projects",
    "record_asset",
    "set_status",
    "update_project",
]
