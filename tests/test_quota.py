"""Provider quotas: the YouTube ledger and its Pacific-time day, the pre-upload quota check
(against the fake YouTube server), and quota_flow writing real Redis keys from the fake
Stability and D-ID servers.

The app DB is shared by the whole test session, so every test removes the ledger rows it
added (``ledger`` fixture) and today's expectations are relative to what was already there.
"""

from __future__ import annotations

import json
import logging
import socket
from datetime import datetime, timedelta, timezone

import pytest
import redis
from pydantic import SecretStr
from sqlalchemy import delete, func, select

from blocks.credentials import YtmakerCredentials
from data.models import YouTubeApiCall
from data.store import session_scope
from flows import quota_flow
from tests.fakes.did_server import FakeDID
from tests.fakes.stability_server import FakeStability
from tests.fakes.youtube_server import FakeYouTube
from tests.test_provider_youtube import media, publish_request, publisher  # noqa: F401 - fixture
from blocks.credentials import forget_cached_block
from ytmaker.providers.errors import ProviderError
from ytmaker.providers.youtube import YouTubePublisher
from ytmaker.runtime.quota import (
    youtube_quota_resume_time,
    DAILY_YOUTUBE_UNITS,
    QUOTA_RESET_MARGIN_SECONDS,
    YOUTUBE_UNITS,
    read_quotas,
    record_youtube_call,
    seconds_until_youtube_reset,
    youtube_day_bounds,
    youtube_units_used_today,
)
from ytmaker.core.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

MARK = 990_001  # project_id marker of this module's ledger rows
QUOTA_KEYS = ("quota:did", "quota:stability", "quota:youtube")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture
def ledger():
    """Rows added during the test are deleted afterwards (the DB outlives the test)."""
    with session_scope() as s:
        last_id = s.scalar(select(func.coalesce(func.max(YouTubeApiCall.id), 0)))
    yield
    with session_scope() as s:
        s.execute(delete(YouTubeApiCall).where(YouTubeApiCall.id > last_id))


def ledger_rows(project_id: int) -> list[tuple[str, int]]:
    with session_scope() as s:
        rows = s.execute(
            select(YouTubeApiCall.method, YouTubeApiCall.units)
            .where(YouTubeApiCall.project_id == project_id)
            .order_by(YouTubeApiCall.id)
        )
        return [tuple(r) for r in rows]


def add_units(units: int, when: datetime | None = None) -> None:
    """A ledger row of arbitrary size, to bring today's total near the limit."""
    with session_scope() as s:
        s.add(YouTubeApiCall(method="videos.insert", units=units, project_id=MARK, called_at=when or datetime.now(timezone.utc)))


@pytest.fixture
def rclient():
    client = redis.Redis.from_url(get_settings().redis_url, decode_responses=True)
    client.delete(*QUOTA_KEYS)
    yield client
    client.delete(*QUOTA_KEYS)
    client.close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there now: connection refused


# ---------------------------------------------------------------------- ledger


def test_recorded_calls_add_their_units_to_today(ledger):
    before = youtube_units_used_today()
    for method in ("videos.insert", "thumbnails.set", "channels.list", "videos.list"):
        record_youtube_call(method, project_id=MARK)
    assert ledger_rows(MARK) == [("videos.insert", 1600), ("thumbnails.set", 50), ("channels.list", 1), ("videos.list", 1)]
    assert youtube_units_used_today() == before + 1652
    with pytest.raises(ValueError, match="unknown YouTube API method"):
        record_youtube_call("videos.delete", project_id=MARK)
    assert YOUTUBE_UNITS == {"videos.insert": 1600, "thumbnails.set": 50, "channels.list": 1, "videos.list": 1}
    assert DAILY_YOUTUBE_UNITS == 10000


def test_quota_day_starts_at_pacific_midnight_in_summer(ledger):
    # 2023-07-14 is PDT (UTC-7): the quota day runs 07:00 UTC to 07:00 UTC the next day.
    now = utc(2023, 7, 14, 17, 0)
    assert youtube_day_bounds(now) == (utc(2023, 7, 14, 7, 0), utc(2023, 7, 15, 7, 0))
    record_youtube_call("videos.insert", MARK, called_at=utc(2023, 7, 14, 6, 59, 59))  # the day before (23:59:59 PDT)
    record_youtube_call("thumbnails.set", MARK, called_at=utc(2023, 7, 14, 7, 0))  # exactly midnight: today
    record_youtube_call("channels.list", MARK, called_at=utc(2023, 7, 15, 6, 59, 59))  # 23:59:59 PDT: today
    record_youtube_call("videos.list", MARK, called_at=utc(2023, 7, 15, 7, 0))  # the next day
    assert youtube_units_used_today(now) == 51
    assert youtube_units_used_today(utc(2023, 7, 14, 6, 0)) == 1600  # 23:00 PDT on the 13th
    assert youtube_units_used_today(utc(2023, 7, 15, 8, 0)) == 1  # 01:00 PDT on the 15th
    # An aware time in another zone means the same instant.
    from zoneinfo import ZoneInfo

    assert youtube_units_used_today(now.astimezone(ZoneInfo("Asia/Taipei"))) == 51
    assert seconds_until_youtube_reset(now) == 14 * 3600


def test_quota_day_follows_daylight_saving_time(ledger):
    # Winter (PST, UTC-8): midnight is 08:00 UTC.
    assert youtube_day_bounds(utc(2023, 1, 10, 12, 0)) == (utc(2023, 1, 10, 8, 0), utc(2023, 1, 11, 8, 0))
    record_youtube_call("thumbnails.set", MARK, called_at=utc(2023, 1, 10, 7, 30))  # 23:30 PST the 9th
    record_youtube_call("channels.list", MARK, called_at=utc(2023, 1, 10, 8, 30))  # 00:30 PST the 10th
    assert youtube_units_used_today(utc(2023, 1, 10, 12, 0)) == 1
    # 2023-03-12, clocks spring forward: a 23-hour quota day, reset at 07:00 UTC.
    assert seconds_until_youtube_reset(utc(2023, 3, 12, 8, 0)) == 23 * 3600
    # 2023-11-05, clocks fall back: a 25-hour quota day.
    assert seconds_until_youtube_reset(utc(2023, 11, 5, 7, 0)) == 25 * 3600
    assert 0 < seconds_until_youtube_reset() <= 25 * 3600


# ---------------------------------------------------------------------- upload check


@pytest.fixture
def fake():
    with FakeYouTube() as server:
        yield server


def test_upload_is_refused_until_the_reset_when_the_quota_would_run_out(ledger, fake, media, tmp_path):  # noqa: F811
    pub = publisher(fake, tmp_path, quota_ledger=True)
    # Exactly one unit too many for an insert (1600) plus a thumbnail (50).
    add_units(DAILY_YOUTUBE_UNITS - youtube_units_used_today() - 1650 + 1)
    assert youtube_units_used_today() == DAILY_YOUTUBE_UNITS - 1649

    before = seconds_until_youtube_reset()
    with pytest.raises(ProviderError) as caught:
        pub.publish(publish_request(media, tmp_path, project_id=MARK + 1))
    after = seconds_until_youtube_reset()
    exc = caught.value
    # Not retried by the task: the reset is hours away, video_flow waits for it instead.
    assert exc.code == "YOUTUBE_QUOTA_EXCEEDED" and not exc.retryable
    assert "midnight Pacific time" in str(exc) and "8351 of 10000 units used today, 1650 needed" in str(exc)
    # Measured between the two readings (rounded to whole seconds), however long the call took.
    assert round(after) <= exc.details["seconds_until_reset"] <= round(before)
    resume = youtube_quota_resume_time(exc)
    _, reset = youtube_day_bounds()
    # Just after the reset: a fixed instant, not a wait measured against the clock.
    assert abs(resume - (reset + timedelta(seconds=QUOTA_RESET_MARGIN_SECONDS))) < timedelta(milliseconds=1)
    assert fake.inserts == 0 and fake.requests_for("insert") == [] and fake.requests_for("chunk") == []
    assert fake.requests == []  # nothing at all was sent, not even a token refresh
    assert ledger_rows(MARK + 1) == []
    assert not (tmp_path / "projects" / str(MARK + 1) / "output" / "youtube_upload.json").exists()


def test_upload_that_fits_is_sent_and_recorded(ledger, fake, media, tmp_path):  # noqa: F811
    pub = publisher(fake, tmp_path, quota_ledger=True)
    # Exactly enough left for an insert and a thumbnail.
    add_units(DAILY_YOUTUBE_UNITS - youtube_units_used_today() - 1650)
    result = pub.publish(publish_request(media, tmp_path, project_id=MARK + 2))
    assert result.video_id == fake.only_video().id and fake.inserts == 1
    assert ledger_rows(MARK + 2) == [("videos.insert", 1600), ("thumbnails.set", 50)]
    assert youtube_units_used_today() == DAILY_YOUTUBE_UNITS

    # Already published: nothing to send, so a full quota refuses nothing.
    again = pub.publish(publish_request(media, tmp_path, project_id=MARK + 2))
    assert again.video_id == result.video_id and fake.inserts == 1

    before = youtube_units_used_today()
    assert pub.channel()["id"] == fake.channel_id
    assert youtube_units_used_today() == before + 1


def test_only_the_configured_publisher_uses_the_ledger(ledger, fake, media, env, tmp_path):  # noqa: F811
    token_file = fake.write_token_file(tmp_path / "token.json")
    env(YOUTUBE_TOKEN_FILE=str(token_file), YOUTUBE_BASE_URL=fake.base_url)
    assert YouTubePublisher.from_settings(get_settings()).quota_ledger is True
    # A publisher built directly (tests, scripts) neither records nor checks unless asked.
    add_units(DAILY_YOUTUBE_UNITS)
    pub = publisher(fake, tmp_path)
    assert pub.quota_ledger is False
    pub.publish(publish_request(media, tmp_path, project_id=MARK + 3))
    assert fake.inserts == 1 and ledger_rows(MARK + 3) == []


# ---------------------------------------------------------------------- quota_flow


def test_quota_flow_writes_all_three_providers_to_redis(ledger, env, rclient):
    with FakeStability(credits=25.5) as stability, FakeDID() as did:
        did.remaining, did.total = 40, 100
        env(
            STABILITY_API_KEY=stability.api_key, STABILITY_BASE_URL=stability.url,
            DID_API_KEY=did.api_key, DID_BASE_URL=did.url,
        )
        record_youtube_call("videos.insert", MARK)
        result = quota_flow()
        assert [r.path for r in stability.requests] == ["/v1/user/balance"]
        assert [r.path for r in did.requests] == ["/credits"]

    assert set(result) == {"did", "stability", "youtube"}
    assert all(report["error"] is None for report in result.values())
    assert result["did"] | {"checked_at": None} == {
        "provider": "did", "used": 60.0, "limit": 100.0, "remaining": 40.0, "percent_used": 60.0,
        "error": None, "checked_at": None,
    }
    assert result["stability"]["remaining"] == 25.5 and result["stability"]["used"] is None
    youtube = result["youtube"]
    assert youtube["limit"] == DAILY_YOUTUBE_UNITS and 1600 <= youtube["used"] <= youtube_units_used_today()
    assert youtube["remaining"] == max(0, DAILY_YOUTUBE_UNITS - youtube["used"])
    assert youtube["percent_used"] == pytest.approx(100 * youtube["used"] / DAILY_YOUTUBE_UNITS, abs=0.01)

    for key in QUOTA_KEYS:
        stored = json.loads(rclient.get(key))
        assert stored == result[key.split(":", 1)[1]]
        assert 0 < rclient.ttl(key) <= 3600


def test_keys_only_in_the_credentials_block_are_used(ledger, env, rclient, monkeypatch):
    # A worker without keys in its environment, as the credentials block is meant for:
    # quota_flow must find them there, as get_provider does, and ask both services.
    with FakeStability(credits=12.5) as stability, FakeDID() as did:
        did.remaining, did.total = 30, 50
        monkeypatch.delenv("STABILITY_API_KEY", raising=False)
        monkeypatch.delenv("DID_API_KEY", raising=False)
        env(YTMAKER_CREDENTIALS_BLOCK="quota-creds", STABILITY_BASE_URL=stability.url, DID_BASE_URL=did.url)
        assert get_settings().stability_api_key is None and get_settings().did_api_key is None
        YtmakerCredentials.register_type_and_schema()
        YtmakerCredentials(
            stability_api_key=SecretStr(stability.api_key), did_api_key=SecretStr(did.api_key)
        ).save("quota-creds", overwrite=True)
        forget_cached_block()
        try:
            result = quota_flow()
        finally:
            forget_cached_block()
        assert [r.path for r in stability.requests] == ["/v1/user/balance"]
        assert [r.path for r in did.requests] == ["/credits"]

    assert result["stability"]["error"] is None and result["stability"]["remaining"] == 12.5
    assert result["did"]["error"] is None and (result["did"]["remaining"], result["did"]["limit"]) == (30.0, 50.0)
    assert json.loads(rclient.get("quota:stability"))["remaining"] == 12.5
    assert json.loads(rclient.get("quota:did"))["remaining"] == 30.0


def test_an_unreadable_provider_is_reported_and_skipped(env, rclient):
    rclient.set("quota:did", "stale", ex=60)
    with FakeStability(credits=7.0) as stability:
        env(
            STABILITY_API_KEY=stability.api_key, STABILITY_BASE_URL=stability.url,
            DID_API_KEY="did-key", DID_BASE_URL=closed_port_url(),
        )
        result = quota_flow()

    assert result["did"]["error"] and "DID_CONNECTION" in result["did"]["error"]
    assert result["did"]["used"] is None and result["did"]["remaining"] is None
    assert "did-key" not in result["did"]["error"]
    assert rclient.get("quota:did") == "stale"  # not overwritten; it expires on its own
    assert json.loads(rclient.get("quota:stability"))["remaining"] == 7.0
    assert json.loads(rclient.get("quota:youtube"))["limit"] == DAILY_YOUTUBE_UNITS
    assert 0 < rclient.ttl("quota:stability") <= 3600 and 0 < rclient.ttl("quota:youtube") <= 3600


def test_providers_without_keys_are_not_asked(env):
    env(STABILITY_API_KEY="", DID_API_KEY="")
    reports = read_quotas(get_settings())
    assert [r.provider for r in reports] == ["youtube"]


def test_more_than_90_percent_used_logs_a_warning(ledger, env, caplog):
    with FakeStability() as stability, FakeDID() as did:
        did.remaining, did.total = 5, 100
        env(
            STABILITY_API_KEY=stability.api_key, STABILITY_BASE_URL=stability.url,
            DID_API_KEY=did.api_key, DID_BASE_URL=did.url,
        )
        add_units(max(0, DAILY_YOUTUBE_UNITS - youtube_units_used_today() - 500))  # 95 % of YouTube's day
        with caplog.at_level(logging.WARNING, logger="ytmaker.quota"):
            reports = {r.provider: r for r in read_quotas(get_settings())}

    assert reports["did"].percent_used == 95.0
    assert reports["youtube"].percent_used >= 95.0
    warnings = [r.getMessage() for r in caplog.records if r.name == "ytmaker.quota" and r.levelno == logging.WARNING]
    assert any(m.startswith("did quota is 95.0% used") for m in warnings), warnings
    assert any(m.startswith("youtube quota is") for m in warnings), warnings
    assert not any(m.startswith("stability") for m in warnings)  # a balance has no limit to warn about


def test_below_90_percent_logs_no_warning(env, caplog):
    with FakeDID() as did:
        did.remaining, did.total = 11, 100  # 89 % used
        env(STABILITY_API_KEY="", DID_API_KEY=did.api_key, DID_BASE_URL=did.url)
        with caplog.at_level(logging.WARNING, logger="ytmaker.quota"):
            reports = {r.provider: r for r in read_quotas(get_settings())}
    assert reports["did"].percent_used == 89.0
    assert not [r for r in caplog.records if r.name == "ytmaker.quota" and "did" in r.getMessage()]
