"""YouTube's failures as :class:`ProviderError` with ``YOUTUBE_*`` codes, secrets scrubbed.

401 (and a refused token refresh) → ``YOUTUBE_AUTH``, ``quotaExceeded`` (403) /
``uploadLimitExceeded`` (400 or 403) → ``YOUTUBE_QUOTA_EXCEEDED``, ``rateLimitExceeded``
(403) and 429 → ``YOUTUBE_RATE_LIMITED``, other 403 → ``YOUTUBE_FORBIDDEN``, 400 →
``YOUTUBE_BAD_REQUEST``, 5xx → ``YOUTUBE_SERVER_ERROR``; a timeout or a lost connection →
``YOUTUBE_TIMEOUT`` / ``YOUTUBE_CONNECTION``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ytmaker.providers.errors import ProviderError, kind_for_status, parse_retry_after

PROVIDER = "YOUTUBE"
MESSAGE_LIMIT = 600

_QUOTA_REASONS = frozenset({"quotaExceeded", "uploadLimitExceeded", "dailyLimitExceeded"})
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})


def google_error(content: bytes | str | None) -> tuple[str | None, str]:
    """(first ``errors[].reason`` or ``status``, ``message``) of a Google error body."""
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    content = content or ""
    try:
        data = json.loads(content)
    except ValueError:
        return None, content.strip()[:300]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str):  # OAuth style: {"error": "invalid_grant", "error_description": ...}
        return error, str(data.get("error_description") or "")
    if not isinstance(error, dict):
        return None, content.strip()[:300]
    reason = None
    errors = error.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        reason = errors[0].get("reason")
    if not reason:
        details = error.get("details")
        if isinstance(details, list):
            for item in details:
                if isinstance(item, dict) and item.get("reason"):
                    reason = item["reason"]
                    break
    return reason or error.get("status"), str(error.get("message") or "")


class YouTubeErrors:
    """Makes the publisher's errors: ``redact`` scrubs the current credentials from every
    message; the token file and the base URL are named where they help."""

    def __init__(self, redact: Callable[[str], str], token_file: Path, base_url: str):
        self.redact = redact
        self.token_file = token_file
        self.base_url = base_url

    def status(self, status: int, content: Any, resp: Any = None) -> ProviderError:
        """An HTTP error reply (``resp`` gives its Retry-After)."""
        reason, message = google_error(content)
        kind = kind_for_status(status)
        # videos.insert documents uploadLimitExceeded under 400, quotaExceeded under 403.
        if status in (400, 403) and reason in _QUOTA_REASONS:
            kind = "QUOTA_EXCEEDED"
        elif status == 403 and reason in _RATE_REASONS:
            kind = "RATE_LIMITED"
        detail = f"HTTP {status}" + (f" {reason}" if reason else "") + (f": {message}" if message else "")
        if status == 401:
            detail += f" (refresh or recreate the token in YOUTUBE_TOKEN_FILE {self.token_file})"
        retry_after = parse_retry_after(resp.get("retry-after")) if resp is not None else None
        return ProviderError(
            PROVIDER,
            kind,
            self.redact(detail)[:MESSAGE_LIMIT],
            status=status,
            retry_after=retry_after,
            details={"reason": reason} if reason else None,
        )

    def transport(self, exc: BaseException, doing: str) -> ProviderError:
        """A timeout or a connection failure while ``doing``."""
        kind = "TIMEOUT" if isinstance(exc, TimeoutError) else "CONNECTION"
        return ProviderError(
            PROVIDER, kind, self.redact(f"{doing}: {type(exc).__name__}: {exc} ({self.base_url})")[:MESSAGE_LIMIT]
        )
