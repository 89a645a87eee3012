"""Datetime columns keep their instant on SQLite and PostgreSQL: stored in UTC, read back
aware (UTC), naive values refused. ``publish_at`` read back is accepted by the publishers."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from data import create_project, get_project
from data.models import Base, Project, YouTubeApiCall
from tests.service import POSTGRES_ADMIN_URL
from ytmaker.core.errors import InvalidProject
from ytmaker.providers.base import PublishRequest
from ytmaker.providers.local_publish import LocalPublisher
from ytmaker.core.script import VideoMetadata

TAIPEI = timezone(timedelta(hours=8))
PUBLISH_AT = datetime(2026, 12, 1, 10, 0, tzinfo=TAIPEI)  # 02:00 UTC


def _postgres_engine() -> Iterator[Engine]:
    """A throwaway database on the test server, in a session time zone that is not UTC (so
    a value that merely passed through unconverted would show +09:00)."""
    name = f"ytmaker_tz_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    server = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)[1]
    engine = create_engine(f"postgresql+psycopg://{server}/{name}", connect_args={"options": "-c timezone=Asia/Tokyo"})
    try:
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        made = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
        Base.metadata.create_all(made)
        yield made
        made.dispose()
    else:
        for made in _postgres_engine():
            Base.metadata.create_all(made)
            yield made


def _project(publish_at: datetime | None) -> Project:
    return Project(name="tz", content="text", language="en", publish_at=publish_at)


def test_publish_at_round_trips_to_the_same_instant_aware(engine: Engine) -> None:
    with Session(engine) as s, s.begin():
        s.add(_project(PUBLISH_AT))
    with Session(engine) as s:
        project = s.query(Project).one()
        stored, created = project.publish_at, project.created_at
    assert stored is not None and stored.tzinfo is not None
    assert stored.utcoffset() == timedelta(0)
    assert stored == PUBLISH_AT and stored.isoformat() == "2026-12-01T02:00:00+00:00"
    assert created.utcoffset() == timedelta(0)  # the other datetime columns too


def test_comparisons_use_the_instant(engine: Engine) -> None:
    # The quota ledger compares called_at with aware bounds: both sides must mean UTC.
    with Session(engine) as s, s.begin():
        s.add(YouTubeApiCall(method="videos.list", units=1, called_at=PUBLISH_AT))
    with Session(engine) as s:
        def count(lo: datetime, hi: datetime) -> int:
            return s.query(YouTubeApiCall).filter(YouTubeApiCall.called_at >= lo, YouTubeApiCall.called_at < hi).count()

        assert count(datetime(2026, 12, 1, 1, 59, tzinfo=timezone.utc), datetime(2026, 12, 1, 2, 1, tzinfo=timezone.utc)) == 1
        # 10:00 wall clock read as UTC (the old SQLite behaviour) would fall in this window instead.
        assert count(datetime(2026, 12, 1, 9, 59, tzinfo=timezone.utc), datetime(2026, 12, 1, 10, 1, tzinfo=timezone.utc)) == 0


def test_a_naive_datetime_is_refused(engine: Engine) -> None:
    with pytest.raises(StatementError, match="no time zone") as info:
        with Session(engine) as s, s.begin():
            s.add(_project(datetime(2026, 12, 1, 10, 0)))
    assert isinstance(info.value.orig, ValueError)


def test_sqlite_stores_utc_and_reads_old_naive_rows_as_utc(tmp_path: Path) -> None:
    made = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    Base.metadata.create_all(made)
    try:
        with Session(made) as s, s.begin():
            s.add(_project(PUBLISH_AT))
            # A row written before this type: the UTC digits utcnow() left, with no offset.
            s.execute(text("INSERT INTO projects (name, content, language, status, privacy, created_at, updated_at) "
                           "VALUES ('old', 'x', 'en', 'COMPLETED', 'PRIVATE', '2024-05-01 12:30:00.000000', "
                           "'2024-05-01 12:30:00.000000')"))
        with made.connect() as conn:
            raw = conn.execute(text("SELECT publish_at FROM projects WHERE name = 'tz'")).scalar_one()
        assert raw.startswith("2026-12-01 02:00:00")
        with Session(made) as s:
            old = s.query(Project).filter_by(name="old").one()
            assert old.created_at == datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)
    finally:
        made.dispose()


def test_create_project_refuses_a_naive_publish_at() -> None:
    with pytest.raises(InvalidProject, match="publish_at"):
        create_project("naive", "Some text.", "en", publish_at=datetime(2026, 12, 1, 10, 0))


def test_the_local_publisher_accepts_publish_at_read_back(tmp_path: Path) -> None:
    # The app's own database (SQLite in the tests): the path a scheduled video really takes.
    project = get_project(create_project("scheduled", "Some text.", "en", publish_at=PUBLISH_AT).id)
    assert project.publish_at == PUBLISH_AT and project.publish_at.utcoffset() == timedelta(0)
    video, thumbnail = tmp_path / "v.mp4", tmp_path / "t.jpg"
    video.write_bytes(b"video")
    thumbnail.write_bytes(b"thumb")
    request = PublishRequest(
        project_id=project.id, video_path=str(video), video_sha256="ab" * 32, thumbnail_path=str(thumbnail),
        metadata=VideoMetadata(title="t", description="d", tags=[]), language="en",
        publish_at=project.publish_at.isoformat(),
    )
    publication = LocalPublisher(tmp_path / "published").publish(request)
    assert publication.video_status == "scheduled"
