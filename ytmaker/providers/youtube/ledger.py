"""The daily quota of the YouTube Data API, and the ledger of units spent.

YouTube gives each Google Cloud project 10,000 units a day and says nothing about what is
left, so every call the publisher sends is written to a ledger (the ``youtube_api_calls``
table) with its cost, and the units used today are summed from it. The quota day starts at
midnight Pacific time (America/Los_Angeles, DST included), which is when Google resets it.

:class:`DailyQuota` is what the publisher uses: check that the calls a publish still needs
fit in what is left today, and write each call sent. ``ytmaker.runtime.quota`` reads the
same ledger for its reports.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from data.models import YouTubeApiCall
from data.store import session_scope
from ytmaker.providers.errors import ProviderError

PROVIDER = "YOUTUBE"
# Cost in quota units of each YouTube Data API v3 method this project calls.
YOUTUBE_UNITS: dict[str, int] = {"videos.insert": 1600, "thumbnails.set": 50, "channels.list": 1, "videos.list": 1}
DAILY_YOUTUBE_UNITS = 10000
YOUTUBE_QUOTA_TZ = ZoneInfo("America/Los_Angeles")

log = logging.getLogger(__name__)


def aware_utc(value: datetime | None) -> datetime:
    """``value`` (now when None) in UTC; a naive value is taken as UTC."""
    if value is None:
        return datetime.now(timezone.utc)
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def record_youtube_call(method: str, project_id: int | None = None, *, called_at: datetime | None = None) -> None:
    """Write one sent YouTube API call, with its cost from ``YOUTUBE_UNITS``, to the ledger.

    Times are stored in UTC (SQLite keeps no offset, so everything must agree on one).
    """
    if method not in YOUTUBE_UNITS:
        raise ValueError(f"unknown YouTube API method {method!r}; known: {sorted(YOUTUBE_UNITS)}")
    with session_scope() as s:
        s.add(
            YouTubeApiCall(
                method=method, units=YOUTUBE_UNITS[method], project_id=project_id, called_at=aware_utc(called_at)
            )
        )


def youtube_day_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """(start, end) in UTC of the quota day that contains ``now``: Pacific midnight to midnight."""
    local = aware_utc(now).astimezone(YOUTUBE_QUOTA_TZ)
    start = datetime.combine(local.date(), time(0), tzinfo=YOUTUBE_QUOTA_TZ)
    end = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=YOUTUBE_QUOTA_TZ)
    # Convert before any arithmetic: aware datetimes sharing a tzinfo subtract as wall clock.
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def youtube_units_used_today(now: datetime | None = None) -> int:
    """Units recorded in the quota day containing ``now`` (the current one by default)."""
    start, end = youtube_day_bounds(now)
    with session_scope() as s:
        total = s.scalar(
            select(func.coalesce(func.sum(YouTubeApiCall.units), 0)).where(
                YouTubeApiCall.called_at >= start, YouTubeApiCall.called_at < end
            )
        )
    return int(total or 0)


def seconds_until_youtube_reset(now: datetime | None = None) -> float:
    """Seconds from ``now`` to the next Pacific midnight, when the daily quota resets."""
    current = aware_utc(now)
    _, end = youtube_day_bounds(current)
    return (end - current).total_seconds()


class DailyQuota:
    """The publisher's side of the ledger; does nothing when not ``enabled`` (a publisher
    built directly, for a test or a script, neither records nor checks unless asked)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def ensure_room(self, methods: Iterable[str]) -> None:
        """Refuse (``YOUTUBE_QUOTA_EXCEEDED``, not retried by the task) before anything is
        sent when what is left of today's units cannot cover ``methods``."""
        if not self.enabled:
            return
        needed = sum(YOUTUBE_UNITS[m] for m in methods)
        try:
            used = youtube_units_used_today()
        except Exception as exc:  # noqa: BLE001 - an unreadable ledger must not stop publishing
            log.warning("the YouTube quota ledger could not be read (%s); uploading without the check", type(exc).__name__)
            return
        if needed and used + needed > DAILY_YOUTUBE_UNITS:
            # Not retried by the task (hours away): video_flow waits for the reset instead.
            raise ProviderError(
                PROVIDER,
                "QUOTA_EXCEEDED",
                "the daily quota would run out; it resets at midnight Pacific time "
                f"({used} of {DAILY_YOUTUBE_UNITS} units used today, {needed} needed)",
                details={"units_used": used, "units_needed": needed, "daily_units": DAILY_YOUTUBE_UNITS,
                         "seconds_until_reset": round(seconds_until_youtube_reset())},
            )

    def spent(self, method: str, project_id: int | None = None) -> None:
        """Write a sent call to the ledger; a ledger failure never fails the call."""
        if not self.enabled:
            return
        try:
            record_youtube_call(method, project_id)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not record %s in the YouTube quota ledger: %s", method, type(exc).__name__)
