"""The video resource sent with ``videos.insert``: snippet and status, fitted to YouTube's rules."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timezone, tzinfo
from typing import Any

from ytmaker.core.requests import PublishRequest
from ytmaker.providers.errors import ProviderError

PROVIDER = "YOUTUBE"
EDUCATION_CATEGORY = "27"

log = logging.getLogger(__name__)


def clean_text(text: str) -> str:
    """YouTube refuses '<' and '>' in titles, descriptions and tags (invalidTitle etc.)."""
    return text.replace("<", "‹").replace(">", "›")


def fit_description(text: str, limit: int = 5000) -> str:
    """YouTube counts the description's limit in UTF-8 bytes (5000), not characters."""
    data = clean_text(text).encode("utf-8")
    return data[:limit].decode("utf-8", "ignore") if len(data) > limit else clean_text(text)


def fit_tags(tags: Sequence[str], limit: int = 500) -> list[str]:
    """Tags in order while their total stays within YouTube's 500 characters (a tag with a
    space counts its quotes; tags are comma-separated); duplicates dropped."""
    kept: list[str] = []
    used = 0
    for tag in tags:
        tag = clean_text(tag).replace(",", " ").strip()
        if not tag or tag in kept:
            continue
        cost = len(tag) + (2 if " " in tag else 0) + (1 if kept else 0)
        if used + cost > limit:
            continue
        kept.append(tag)
        used += cost
    return kept


def publish_at_utc(value: str, zone: tzinfo) -> str:
    """An ISO 8601 date-time (a naive one is in ``zone``) as the API's UTC form."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ProviderError(PROVIDER, "BAD_REQUEST", f"publish_at {value!r} is not an ISO 8601 date-time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def video_body(request: PublishRequest, category_id: str, zone: tzinfo) -> dict[str, Any]:
    """``{"snippet", "status"}`` of the video; a scheduled video is uploaded as private."""
    snippet: dict[str, Any] = {
        "title": clean_text(request.metadata.title)[:100],
        "description": fit_description(request.metadata.description),
        "tags": fit_tags(request.metadata.tags),
        "categoryId": category_id,
        "defaultLanguage": request.language,
    }
    status: dict[str, Any] = {
        "privacyStatus": request.privacy,
        "selfDeclaredMadeForKids": False,
        "containsSyntheticMedia": True,
    }
    if request.publish_at:
        status["publishAt"] = publish_at_utc(request.publish_at, zone)
        if request.privacy != "private":
            log.info("publishAt is set: uploading as private (YouTube makes it public at %s)", status["publishAt"])
        status["privacyStatus"] = "private"  # the API only schedules private videos
    return {"snippet": snippet, "status": status}
