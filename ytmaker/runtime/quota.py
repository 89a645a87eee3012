"""Provider quotas: the YouTube Data API ledger and a reading of every provider's credits.

YouTube gives each Google Cloud project 10,000 units a day and says nothing about what is
left, so every call the publisher sends is written to a ledger (``youtube_api_calls``) with
its cost, and the units used today are summed from it. The quota day starts at midnight
Pacific time (America/Los_Angeles, DST included), which is when Google resets it. The ledger
is kept by the publisher (:mod:`ytmaker.providers.youtube.ledger`) and re-exported here.

D-ID and Stability report their own credits over their APIs; ``read_quotas`` asks them
(only when their keys are set) and reads YouTube from the ledger. ``write_quotas_to_redis``
stores one JSON report per provider under ``quota:{provider}`` for an hour, so a dashboard
shows nothing rather than a stale value when the hourly ``quota-flow`` stops running.

Plain functions, no Prefect: ``flows/quota.py`` runs them hourly.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from pydantic import BaseModel

from ytmaker.core.settings import Settings
from ytmaker.providers.keys import key_is_set
from ytmaker.providers.youtube.ledger import (  # noqa: F401 - re-exported
    DAILY_YOUTUBE_UNITS,
    YOUTUBE_QUOTA_TZ,
    YOUTUBE_UNITS,
    aware_utc,
    record_youtube_call,
    seconds_until_youtube_reset,
    youtube_day_bounds,
    youtube_units_used_today,
)

log = logging.getLogger("ytmaker.quota")

WARN_PERCENT = 90.0
REDIS_TTL_SECONDS = 3600
REDIS_KEY_PREFIX = "quota:"
QUOTA_RESET_MARGIN_SECONDS = 60


# ---------------------------------------------------------------------- YouTube ledger
# The ledger itself lives with the publisher that writes it (ytmaker.providers.youtube.ledger);
# its names are re-exported here for the flows and reports that read it.


def youtube_quota_resume_time(exc: BaseException, now: datetime | None = None) -> datetime | None:
    """When an upload refused for the day's YouTube quota can be tried again, or None when
    ``exc`` is not such a refusal. The server's Retry-After wins; otherwise the Pacific-midnight
    reset plus a minute (clocks differ a little)."""
    if getattr(exc, "provider", None) != "YOUTUBE" or getattr(exc, "kind", None) != "QUOTA_EXCEEDED":
        return None
    current = aware_utc(now)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        return current + timedelta(seconds=float(retry_after))
    return current + timedelta(seconds=seconds_until_youtube_reset(current) + QUOTA_RESET_MARGIN_SECONDS)


# ---------------------------------------------------------------------- reports


class QuotaReport(BaseModel):
    """One provider's quota. Fields a provider does not report are None (Stability gives
    only its remaining credits); ``error`` says why the provider could not be read."""

    provider: str
    used: float | None = None
    limit: float | None = None
    remaining: float | None = None
    percent_used: float | None = None
    error: str | None = None
    checked_at: datetime | None = None


def _report(provider: str, *, used: float | None, limit: float | None, remaining: float | None) -> QuotaReport:
    percent = None
    if used is not None and limit:
        percent = round(100.0 * used / limit, 2)
    return QuotaReport(
        provider=provider,
        used=used,
        limit=limit,
        remaining=remaining,
        percent_used=percent,
        checked_at=datetime.now(timezone.utc),
    )


def _read_did(settings: Any) -> QuotaReport:
    from ytmaker.providers.did import DIDAvatarGenerator

    with DIDAvatarGenerator.from_settings(settings) as client:
        body = client.get_credits()
    remaining = float(body["remaining"])
    total = body.get("total")
    limit = float(total) if total is not None else None
    used = max(0.0, limit - remaining) if limit is not None else None
    return _report("did", used=used, limit=limit, remaining=remaining)


def _read_stability(settings: Any) -> QuotaReport:
    from ytmaker.providers.stability import StabilityImageGenerator

    with StabilityImageGenerator.from_settings(settings) as client:
        balance = client.get_balance()
    return _report("stability", used=None, limit=None, remaining=balance)


def _read_youtube(settings: Any) -> QuotaReport:
    used = youtube_units_used_today()
    return _report("youtube", used=used, limit=DAILY_YOUTUBE_UNITS, remaining=max(0, DAILY_YOUTUBE_UNITS - used))


def read_quotas(settings: Settings) -> list[QuotaReport]:
    """Read every provider's quota; never raises. D-ID and Stability are asked only when
    their keys are set; a provider that cannot be read gets a report with ``error``.

    ``settings`` carries the keys: the caller fills them from the credentials block as a
    step does (``flows/quota.py``), or a worker whose keys live only in the block would
    skip D-ID and Stability without a word.
    """
    readers: list[tuple[str, Any]] = []
    if key_is_set(settings, "DID"):
        readers.append(("did", _read_did))
    if key_is_set(settings, "STABILITY"):
        readers.append(("stability", _read_stability))
    readers.append(("youtube", _read_youtube))

    reports: list[QuotaReport] = []
    for provider, reader in readers:
        try:
            report = reader(settings)
        except Exception as exc:  # noqa: BLE001 - one unreadable provider must not hide the others
            message = f"{getattr(exc, 'code', None) or type(exc).__name__}: {exc}"[:500]
            log.warning("quota of %s could not be read: %s", provider, message)
            report = QuotaReport(provider=provider, error=message, checked_at=datetime.now(timezone.utc))
        else:
            if report.percent_used is not None and report.percent_used > WARN_PERCENT:
                log.warning(
                    "%s quota is %.1f%% used (%s of %s; %s left)",
                    provider, report.percent_used, _fmt(report.used), _fmt(report.limit), _fmt(report.remaining),
                )
        reports.append(report)
    return reports


def _fmt(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def write_quotas_to_redis(reports: Iterable[QuotaReport], redis_url: str) -> list[str]:
    """``SET quota:{provider} <json> EX 3600`` for each report without an error (a provider
    that could not be read is skipped: its last value expires on its own). Returns the keys
    written. Redis errors propagate: this write is the quota flow's whole job."""
    from ytmaker.runtime.progress_bus import redis_client

    client = redis_client(redis_url)
    written: list[str] = []
    for report in reports:
        if report.error is not None:
            continue
        key = f"{REDIS_KEY_PREFIX}{report.provider}"
        client.set(key, report.model_dump_json(), ex=REDIS_TTL_SECONDS)
        written.append(key)
    return written
