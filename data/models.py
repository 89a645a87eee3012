"""SQLAlchemy 2.0 typed models: projects and the assets made for them."""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from ytmaker.core.stages import RUNNING_STATUSES, ProjectStatus  # noqa: F401 - re-exported


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time that comes back aware, in UTC, from every database.

    SQLite has no time-zone type: SQLAlchemy writes the wall-clock digits and drops the
    offset, so 10:00+08:00 came back as a naive 10:00 (a TypeError against aware
    datetimes, or a schedule shifted by eight hours). Every value is therefore converted
    to UTC before it is stored, and whatever is read is UTC: a naive value read from
    SQLite is UTC by this rule (``utcnow`` rows written before this type existed are too).
    A naive value given to store has no instant at all, so it is refused (ValueError).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} has no time zone; give an aware datetime")
        utc = value.astimezone(timezone.utc)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class AssetType(str, enum.Enum):
    AUDIO = "AUDIO"
    IMAGE = "IMAGE"
    AVATAR_INTRO = "AVATAR_INTRO"
    AVATAR_OUTRO = "AVATAR_OUTRO"
    FINAL_VIDEO = "FINAL_VIDEO"
    THUMBNAIL = "THUMBNAIL"


class AssetStatus(str, enum.Enum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class Privacy(str, enum.Enum):
    PRIVATE = "private"
    UNLISTED = "unlisted"
    PUBLIC = "public"


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16), default="zh-TW")
    status: Mapped[ProjectStatus] = mapped_column(
        Enum(ProjectStatus, native_enum=False, length=32), default=ProjectStatus.INITIALIZED
    )
    script: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error_info: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    youtube_video_id: Mapped[str | None] = mapped_column(String(64), default=None)
    video_url: Mapped[str | None] = mapped_column(String(500), default=None)
    # Visual options
    subtitle_style: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    logo_path: Mapped[str | None] = mapped_column(String(500), default=None)
    # Publishing
    privacy: Mapped[Privacy] = mapped_column(Enum(Privacy, native_enum=False, length=16), default=Privacy.PRIVATE)
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    batch_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    assets: Mapped[list["Asset"]] = relationship(back_populates="project", cascade="all, delete-orphan")


class Asset(Base):
    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("project_id", "type", "segment_index", name="uq_asset_slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    type: Mapped[AssetType] = mapped_column(Enum(AssetType, native_enum=False, length=32))
    # 0 for assets that are not per segment (narration, avatars, video, thumbnail).
    segment_index: Mapped[int] = mapped_column(Integer, default=0)
    path: Mapped[str | None] = mapped_column(String(500), default=None)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[AssetStatus] = mapped_column(Enum(AssetStatus, native_enum=False, length=16))
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    project: Mapped[Project] = relationship(back_populates="assets")


class BatchStatus(str, enum.Enum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"


class BatchTask(Base):
    """A batch of projects made together; counts are updated as each project ends."""

    __tablename__ = "batch_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    status: Mapped[BatchStatus] = mapped_column(
        Enum(BatchStatus, native_enum=False, length=16), default=BatchStatus.PENDING
    )
    total: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class YouTubeApiCall(Base):
    """The ledger of YouTube Data API calls made, for the daily quota (units per method)."""

    __tablename__ = "youtube_api_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    method: Mapped[str] = mapped_column(String(64))
    units: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    called_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ImageOverride(Base):
    """A user's request to remake one segment's picture (optionally with a new description).

    ``revision`` goes up on every request, so the picture is made again even when the
    description stays the same."""

    __tablename__ = "image_overrides"
    __table_args__ = (UniqueConstraint("project_id", "segment_index", name="uq_image_override"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    segment_index: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    revision: Mapped[int] = mapped_column(Integer, default=0)


class ProjectRun(Base):
    """Every video_flow run started for a project (newest last), so recovery can find and
    close the run a killed worker left behind."""

    __tablename__ = "project_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    flow_run_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
