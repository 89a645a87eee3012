"""Error replies of Google's JSON APIs (Gemini, Cloud Text-to-Speech), read one way.

The body is ``{"error": {"code", "message", "status", "details": [...]}}``; the details
say why (``ErrorInfo.reason``), when to try again (``RetryInfo.retryDelay``) and which
quota ran out (``QuotaFailure``). Anything else is tolerated: the raw text is quoted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from ytmaker.providers.errors import ProviderError, kind_for_status, parse_retry_after, snippet


@dataclass
class GoogleError:
    raw: str = ""
    message: str = ""
    status: str = ""  # e.g. INVALID_ARGUMENT, RESOURCE_EXHAUSTED
    reason: str = ""  # ErrorInfo.reason, e.g. API_KEY_INVALID
    retry_delay: float | None = None  # RetryInfo.retryDelay, in seconds
    quota_ids: list[str] = field(default_factory=list)  # QuotaFailure violations

    @classmethod
    def parse(cls, raw: str) -> "GoogleError":
        found = cls(raw=raw)
        try:
            error = json.loads(raw).get("error", {})
        except (ValueError, AttributeError):
            error = {}
        if not isinstance(error, dict):
            return found
        found.message = str(error.get("message") or "")
        found.status = str(error.get("status") or "")
        for detail in error.get("details") or []:
            if not isinstance(detail, dict):
                continue
            kind = str(detail.get("@type", ""))
            if kind.endswith("ErrorInfo"):
                found.reason = str(detail.get("reason") or "")
            elif kind.endswith("RetryInfo"):
                found.retry_delay = parse_retry_after(str(detail.get("retryDelay", "")).rstrip("s"))
            elif kind.endswith("QuotaFailure"):
                found.quota_ids += [str(v.get("quotaId", "")) for v in detail.get("violations") or [] if isinstance(v, dict)]
        return found

    @property
    def text(self) -> str:
        """The message, or the raw reply when there is none."""
        return self.message or self.raw

    def kind(self, status: int) -> str:
        """The error kind of the HTTP status; a refused key is ``AUTH`` (Google answers a wrong
        key with 400 INVALID_ARGUMENT)."""
        if status == 400 and (self.reason == "API_KEY_INVALID" or "api key not valid" in self.text.lower()):
            return "AUTH"
        return kind_for_status(status)

    def to_provider_error(
        self, provider: str, status: int, kind: str, redact: Callable[[str], str], retry_after: float | None
    ) -> ProviderError:
        detail = f"HTTP {status}" + (f" {self.status}" if self.status else "")
        if self.text:
            detail += f": {snippet(redact(self.text))}"
        return ProviderError(provider, kind, detail, status=status, retry_after=retry_after)
