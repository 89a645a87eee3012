"""The data layer's functions. Each call is one short transaction; callers get plain,
detached snapshots (``ProjectRecord``/``AssetRecord``), never live ORM objects."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from pydantic import BaseModel, ConfigDict
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from data.models import (
    Asset, AssetStatus, AssetType, Base, BatchStatus, BatchTask, ImageOverride, Privacy, Project, ProjectRun, ProjectStatus,
)
from ytmaker.core.errors import InvalidProject, ProjectNotFound
from ytmaker.core.settings import get_settings

SUPPORTED_LANGUAGES = ("zh-TW", "zh", "en")

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(url: str | None = None) -> Engine:
    """One engine per database URL; tables are created the first time it is used."""
    url = url or get_settings().resolved_database_url
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                path = url.split("///", 1)[-1]
                if path and path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

                @event.listens_for(engine, "connect")
                def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001
                    cursor = dbapi_connection.cursor()
                    cursor.execute("PRAGMA foreign_keys=ON")
                    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
                    cursor.close()
            else:
                engine = create_engine(url, pool_pre_ping=True)
            Base.metadata.create_all(engine)
            _engines[url] = engine
        return engine


@contextmanager
def session_scope() -> Iterator[Session]:
    factory = sessionmaker(bind=get_engine(), expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


class AssetRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    project_id: int
    type: AssetType
    segment_index: int
    path: str | None
    sha256: str | None
    status: AssetStatus
    error: str | None


class ProjectRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    content: str
    language: str
    status: ProjectStatus
    script: dict[str, Any] | None
    error_info: dict[str, Any] | None
    youtube_video_id: str | None
    video_url: str | None
    subtitle_style: dict[str, Any] | None
    logo_path: str | None
    privacy: Privacy
    publish_at: datetime | None
    batch_id: int | None
    created_at: datetime
    updated_at: datetime


def _invalid(field: str, message: str, value: Any = None) -> InvalidProject:
    return InvalidProject(f"{field}: {message}", details={"field": field, "value": value})


def create_project(
    name: str,
    content: str,
    language: str = "zh-TW",
    *,
    subtitle_style: dict[str, Any] | None = None,
    logo_path: str | Path | None = None,
    privacy: str = "private",
    publish_at: datetime | None = None,
    batch_id: int | None = None,
) -> ProjectRecord:
    """Create a project; bad input is refused here, before any work is spent on it."""
    from ytmaker.core.media_types import SubtitleStyle

    if not name or not name.strip():
        raise _invalid("name", "must not be empty", name)
    if len(name) > 200:
        raise _invalid("name", f"is {len(name)} characters; the limit is 200", len(name))
    if not content or not content.strip():
        raise _invalid("content", "must not be empty")
    if language not in SUPPORTED_LANGUAGES:
        raise _invalid("language", f"{language!r} is not supported; use one of {SUPPORTED_LANGUAGES}", language)
    if logo_path is not None and not Path(logo_path).is_file():
        raise _invalid("logo_path", f"{logo_path} does not exist", str(logo_path))
    if publish_at is not None and publish_at.utcoffset() is None:
        # A naive time is a different instant on every machine: refuse it rather than guess.
        raise _invalid("publish_at", "needs a time zone (e.g. 2026-12-01T10:00:00+08:00)", str(publish_at))
    try:
        privacy_value = Privacy(privacy)
    except ValueError:
        raise _invalid("privacy", f"{privacy!r} must be one of {[p.value for p in Privacy]}", privacy) from None
    if subtitle_style is not None:
        try:
            subtitle_style = SubtitleStyle(**subtitle_style).model_dump()
        except Exception as exc:
            raise _invalid("subtitle_style", str(exc), subtitle_style) from None
    with session_scope() as s:
        project = Project(
            name=name.strip(),
            content=content,
            language=language,
            subtitle_style=subtitle_style,
            logo_path=str(Path(logo_path).resolve()) if logo_path else None,
            privacy=privacy_value,
            publish_at=publish_at,
            batch_id=batch_id,
        )
        s.add(project)
        s.flush()
        return ProjectRecord.model_validate(project)


_NOT_FOUND = {Project: ("Project", "project_id"), BatchTask: ("Batch", "batch_id")}


def _existing(s: Session, model: type[Project] | type[BatchTask], ident: int) -> Any:
    """Row ``ident`` of ``model`` (a project or a batch), or ProjectNotFound."""
    row = s.get(model, ident)
    if row is None:
        noun, key = _NOT_FOUND[model]
        raise ProjectNotFound(f"{noun} {ident} does not exist.", details={key: ident})
    return row


def get_project(project_id: int) -> ProjectRecord:
    with session_scope() as s:
        project = _existing(s, Project, project_id)
        return ProjectRecord.model_validate(project)


def list_projects(limit: int = 50) -> list[ProjectRecord]:
    with session_scope() as s:
        rows = s.scalars(select(Project).order_by(Project.id.desc()).limit(limit))
        return [ProjectRecord.model_validate(p) for p in rows]


def update_project(project_id: int, **fields: Any) -> ProjectRecord:
    """Set columns on a project (status, script, error_info, ...)."""
    with session_scope() as s:
        project = _existing(s, Project, project_id)
        for key, value in fields.items():
            if not hasattr(Project, key):
                raise AttributeError(f"Project has no column {key!r}")
            setattr(project, key, value)
        s.flush()
        return ProjectRecord.model_validate(project)


def set_status(project_id: int, status: ProjectStatus) -> ProjectRecord:
    return update_project(project_id, status=status)


def record_asset(
    project_id: int,
    asset_type: AssetType,
    *,
    segment_index: int = 0,
    path: str | None = None,
    sha256: str | None = None,
    error: str | None = None,
) -> AssetRecord:
    """Insert or update the asset in its slot (project, type, segment): COMPLETED when it has a
    path and no error, FAILED otherwise."""
    status = AssetStatus.FAILED if error or not path else AssetStatus.COMPLETED
    with session_scope() as s:
        asset = s.scalars(
            select(Asset).where(
                Asset.project_id == project_id, Asset.type == asset_type, Asset.segment_index == segment_index
            )
        ).one_or_none()
        if asset is None:
            asset = Asset(project_id=project_id, type=asset_type, segment_index=segment_index, status=status)
            s.add(asset)
        asset.path, asset.sha256, asset.status, asset.error = path, sha256, status, error
        s.flush()
        return AssetRecord.model_validate(asset)


def list_assets(project_id: int) -> list[AssetRecord]:
    with session_scope() as s:
        rows = s.scalars(select(Asset).where(Asset.project_id == project_id).order_by(Asset.type, Asset.segment_index))
        return [AssetRecord.model_validate(a) for a in rows]


class BatchRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str | None
    status: BatchStatus
    total: int
    completed: int
    failed: int


def create_batch(project_ids: list[int], name: str | None = None) -> BatchRecord:
    """A batch of existing projects (each project's ``batch_id`` is set)."""
    if not project_ids:
        raise InvalidProject("project_ids: a batch needs at least one project", details={"field": "project_ids"})
    with session_scope() as s:
        missing = [pid for pid in project_ids if s.get(Project, pid) is None]
        if missing:
            raise ProjectNotFound(f"Projects {missing} do not exist.", details={"project_ids": missing})
        batch = BatchTask(name=name, total=len(project_ids))
        s.add(batch)
        s.flush()
        for pid in project_ids:
            s.get(Project, pid).batch_id = batch.id
        return BatchRecord.model_validate(batch)


def get_batch(batch_id: int) -> BatchRecord:
    with session_scope() as s:
        batch = _existing(s, BatchTask, batch_id)
        return BatchRecord.model_validate(batch)


def batch_project_ids(batch_id: int) -> list[int]:
    with session_scope() as s:
        return list(s.scalars(select(Project.id).where(Project.batch_id == batch_id).order_by(Project.id)))


def start_batch_run(batch_id: int) -> BatchRecord:
    """A (re)run starts counting from zero."""
    with session_scope() as s:
        batch = _existing(s, BatchTask, batch_id)
        batch.status, batch.completed, batch.failed = BatchStatus.PROCESSING, 0, 0
        batch.total = len(list(s.scalars(select(Project.id).where(Project.batch_id == batch_id))))
        s.flush()
        return BatchRecord.model_validate(batch)


def record_batch_result(batch_id: int, succeeded: bool) -> BatchRecord:
    """Count one finished project (row-locked where the database supports it); the batch
    ends COMPLETED, PARTIAL or FAILED when every project is counted."""
    with session_scope() as s:
        batch = s.scalars(select(BatchTask).where(BatchTask.id == batch_id).with_for_update()).one()
        if succeeded:
            batch.completed += 1
        else:
            batch.failed += 1
        if batch.completed + batch.failed >= batch.total:
            if batch.failed == 0:
                batch.status = BatchStatus.COMPLETED
            elif batch.completed == 0:
                batch.status = BatchStatus.FAILED
            else:
                batch.status = BatchStatus.PARTIAL
        s.flush()
        return BatchRecord.model_validate(batch)


def request_image_remake(project_id: int, segment_index: int, description: str | None = None) -> int:
    """Ask for segment ``segment_index``'s picture to be made again; returns the new revision.
    A new description replaces the script's until another one is given."""
    with session_scope() as s:
        project = _existing(s, Project, project_id)
        count = len((project.script or {}).get("segments", []))
        if not 1 <= segment_index <= count:
            raise InvalidProject(
                f"Project {project_id}: segment_index {segment_index} is out of range; the script has "
                f"{count} segments" + ("" if count else " (run the project first)") + ".",
                details={"field": "segment_index", "value": segment_index, "limit": f"1-{count}"},
            )
        if description is not None and not description.strip():
            raise InvalidProject("description: must not be empty", details={"field": "description"})
        override = s.scalars(
            select(ImageOverride).where(
                ImageOverride.project_id == project_id, ImageOverride.segment_index == segment_index
            )
        ).one_or_none()
        if override is None:
            override = ImageOverride(project_id=project_id, segment_index=segment_index, revision=0)
            s.add(override)
        override.revision += 1
        if description is not None:
            override.description = description.strip()
        s.flush()
        return override.revision


def image_overrides(project_id: int) -> dict[int, tuple[str | None, int]]:
    """segment index -> (description or None, revision)."""
    with session_scope() as s:
        rows = s.scalars(select(ImageOverride).where(ImageOverride.project_id == project_id))
        return {o.segment_index: (o.description, o.revision) for o in rows}


def record_project_run(project_id: int, flow_run_id: str) -> None:
    with session_scope() as s:
        s.add(ProjectRun(project_id=project_id, flow_run_id=str(flow_run_id)))


def last_project_run(project_id: int) -> str | None:
    with session_scope() as s:
        return s.scalar(
            select(ProjectRun.flow_run_id).where(ProjectRun.project_id == project_id)
            .order_by(ProjectRun.id.desc()).limit(1)
        )


def projects_in_status(statuses: frozenset[ProjectStatus] | set[ProjectStatus]) -> list[ProjectRecord]:
    with session_scope() as s:
        rows = s.scalars(select(Project).where(Project.status.in_(list(statuses))).order_by(Project.id))
        return [ProjectRecord.model_validate(p) for p in rows]
