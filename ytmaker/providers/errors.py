"""The one table of cloud-provider errors: code, whether a retry can help, what to do.

Retryable: 429, 500, 502, 503, 504, timeouts and connection errors (retried by Prefect task
retries, 2 s / 5 s / 10 s, honouring Retry-After). Not retryable: 400, 401, 403, content
policy, quota exceeded — the task fails at once with its code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ytmaker.core.errors import YtmakerError

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
RETRY_DELAYS_SECONDS = (2, 5, 10)


@dataclass(frozen=True)
class ErrorKind:
    suffix: str
    retryable: bool
    hint: str


# Suffixes shared by every provider; the code is f"{PREFIX}_{suffix}", e.g. STABILITY_AUTH.
KINDS: dict[str, ErrorKind] = {
    "BAD_REQUEST": ErrorKind("BAD_REQUEST", False, "the request was rejected as invalid (HTTP 400)"),
    "AUTH": ErrorKind("AUTH", False, "the credentials were refused (HTTP 401): check {key}"),
    "FORBIDDEN": ErrorKind("FORBIDDEN", False, "access denied (HTTP 403): check that {key} may use this API"),
    "CONTENT_POLICY": ErrorKind("CONTENT_POLICY", False, "refused by the provider's content policy"),
    "QUOTA_EXCEEDED": ErrorKind("QUOTA_EXCEEDED", False, "the account's quota or credits are used up"),
    "RATE_LIMITED": ErrorKind("RATE_LIMITED", True, "too many requests (HTTP 429)"),
    "SERVER_ERROR": ErrorKind("SERVER_ERROR", True, "the service failed (HTTP 5xx)"),
    "TIMEOUT": ErrorKind("TIMEOUT", True, "the service did not answer in time"),
    "CONNECTION": ErrorKind("CONNECTION", True, "could not connect to the service"),
    "INVALID_RESPONSE": ErrorKind("INVALID_RESPONSE", False, "the service's reply was not what was asked for"),
}

# Provider prefix -> the setting that holds its credential (named in AUTH/FORBIDDEN hints).
PROVIDERS: dict[str, str] = {
    "GEMINI": "GEMINI_API_KEY",
    "TTS": "GOOGLE_TTS_API_KEY",
    "STABILITY": "STABILITY_API_KEY",
    "DID": "DID_API_KEY",
    "YOUTUBE": "YOUTUBE_TOKEN_FILE",
}


class ProviderError(YtmakerError):
    """A cloud call failed. ``retryable`` tells Prefect's retry condition what to do."""

    def __init__(
        self,
        provider: str,
        kind: str,
        detail: str = "",
        *,
        status: int | None = None,
        retry_after: float | None = None,
        details: dict[str, Any] | None = None,
    ):
        spec = KINDS[kind]
        hint = spec.hint.format(key=PROVIDERS.get(provider, "the API key"))
        message = f"{provider.title()} {hint}" + (f": {detail}" if detail else "")
        super().__init__(
            message,
            code=f"{provider}_{spec.suffix}",
            details={"provider": provider, "status": status, **(details or {})},
        )
        self.provider = provider
        self.kind = kind
        self.retryable = spec.retryable
        self.status = status
        self.retry_after = retry_after


def kind_for_status(status: int) -> str:
    if status == 400:
        return "BAD_REQUEST"
    if status == 401:
        return "AUTH"
    if status == 403:
        return "FORBIDDEN"
    if status == 429:
        return "RATE_LIMITED"
    if status in RETRYABLE_STATUS or status >= 500:
        return "SERVER_ERROR"
    return "BAD_REQUEST"


def snippet(text: str, limit: int = 200) -> str:
    """``text`` on one line, cut to ``limit`` characters: a service's reply quoted in a message."""
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[:limit] + "…"


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to the standard delays
