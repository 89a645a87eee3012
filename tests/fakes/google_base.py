"""What the Google API fakes (Gemini, Text-to-Speech) share: Google-style error bodies (also
for scripted error replies without a body) and recorded requests; the server and scripted
replies come from ``tests.fakes.http_base.FakeServer``."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.http_base import FakeServer, QuietHandler


_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "BAD_GATEWAY",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def google_error(status: int, message: str, details: list[dict] | None = None) -> dict[str, Any]:
    """A Google API error body: {"error": {"code", "message", "status", "details"}}."""
    error: dict[str, Any] = {"code": status, "message": message, "status": _STATUS_NAMES.get(status, "UNKNOWN")}
    if details:
        error["details"] = details
    return {"error": error}


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string
    raw_path: str  # as sent, with the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any


class GoogleFake(FakeServer):
    """Scripting and recording; subclasses add the API and a ``handler`` class."""

    handler: type["GoogleHandler"]
    name = "fake-google"

    def __init__(self, api_key: str):
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._init_server()

    def error_body(self, status: int) -> dict[str, Any]:
        return google_error(status, f"fake error {status}")

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


class GoogleHandler(QuietHandler):
    fake: GoogleFake

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.send_body(status, body, headers)

    def _read(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        parts = urlsplit(self.path)
        recorded = RecordedRequest(
            method=self.command,
            path=parts.path,
            raw_path=self.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=raw,
            json=parsed,
        )
        self.fake._record(recorded)
        self.fake.checkpoint(recorded.method, recorded.path)
        return recorded

    def do_GET(self) -> None:
        self._read()
        self._send(405, google_error(405, "use POST"))
