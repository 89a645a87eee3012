"""A fake Gemini REST API (``generateContent``) on 127.0.0.1, for tests.

It speaks the wire protocol: ``POST /v1beta/models/{model}:generateContent`` with the key in
the ``x-goog-api-key`` header, JSON in and out, Google-style error bodies. Every request is
recorded; tests script replies with :meth:`FakeGemini.enqueue` (status, body, headers, delay),
after which the server falls back to a valid script reply.

    with FakeGemini() as gemini:
        gemini.enqueue(503, headers={"Retry-After": "7"})
        writer = GeminiScriptWriter(api_key=gemini.api_key, base_url=gemini.base_url, ...)
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_PREFIX = "/v1beta"

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


def default_script(language: str = "en") -> dict[str, Any]:
    """A valid script for ScriptLimits(min_total=20): segments 5-20 s, total 39 s."""
    if language.startswith(("zh", "cmn")):
        texts = ["台北一零一是台灣最有名的地標。", "大樓裡有一顆巨大的鋼球，讓大樓更穩定。", "每年跨年夜都有盛大的煙火秀。"]
        intro, outro, title = "歡迎收看，今天介紹台北一零一。", "感謝收看，請按讚並訂閱頻道！", "台北一零一"
    else:
        texts = [
            "Honeybees live in colonies built around a single queen.",
            "A forager that finds flowers tells her sisters with a waggle dance.",
            "Honey is nectar that bees have thickened by fanning their wings.",
        ]
        intro, outro, title = "Welcome! Today we look at honeybees.", "Thanks for watching, and subscribe!", "Honeybees"
    segments = [
        {"index": i, "text": t, "duration": 9.5, "image_description": f"Illustration {i}: {t}"}
        for i, t in enumerate(texts, start=1)
    ]
    return {
        "intro": {"text": intro, "duration": 5.0},
        "segments": segments,
        "outro": {"text": outro, "duration": 5.5},
        "metadata": {"title": title, "description": f"{title} in a short video.", "tags": [title, "science"]},
        "total_duration": 39.0,
    }


def generate_content_reply(text: str, *, finish_reason: str = "STOP") -> dict[str, Any]:
    """A ``generateContent`` response whose first candidate answers ``text``."""
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": text}]},
                "finishReason": finish_reason,
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 120, "candidatesTokenCount": 300, "totalTokenCount": 420},
        "modelVersion": "gemini-2.5-flash",
    }


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes -> sent as is; None -> the default reply
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (for client timeouts)


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string
    raw_path: str  # as sent, with the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # a client that gave up: not a test failure
        pass


class FakeGemini:
    def __init__(self, api_key: str = "fake-gemini-key-0123456789", model: str = "gemini-2.5-flash"):
        self.api_key = api_key
        self.model = model
        self.requests: list[RecordedRequest] = []
        self.default_language = "en"
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "FakeGemini":
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-gemini", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping on a delay
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeGemini":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "the fake server is not running"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def endpoint_path(self) -> str:
        return f"{API_PREFIX}/models/{self.model}:generateContent"

    # ------------------------------------------------------------------ scripting

    def enqueue(self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None, delay: float = 0.0) -> None:
        """Answer the next generateContent call with this (queued replies go first, in order).
        A non-2xx status with no body gets a Google-style error body."""
        if body is None and status >= 300:
            body = google_error(status, f"fake error {status}")
        with self._lock:
            self._queue.append(Reply(status, body, dict(headers or {}), delay))

    def enqueue_text(self, text: str, **kwargs: Any) -> None:
        """Answer the next call with a candidate whose text is ``text`` (prose, broken JSON...)."""
        self.enqueue(200, generate_content_reply(text), **kwargs)

    def enqueue_script(self, script: dict[str, Any], **kwargs: Any) -> None:
        self.enqueue_text(json.dumps(script, ensure_ascii=False), **kwargs)

    def _next_reply(self) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return Reply(200, generate_content_reply(json.dumps(default_script(self.default_language), ensure_ascii=False)))

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGemini
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            ctype = "application/json; charset=UTF-8"
        elif isinstance(body, str):
            data, ctype = body.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            data, ctype = body or b"", "application/octet-stream"
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client hung up (timed out)

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
        return recorded

    def do_GET(self) -> None:
        self._read()
        self._send(405, google_error(405, "use POST"))

    def do_POST(self) -> None:
        fake = self.fake
        request = self._read()
        if request.path != fake.endpoint_path:
            self._send(404, google_error(404, f"models/{request.path.rsplit('/', 1)[-1]} is not found for API version v1beta"))
            return
        if request.headers.get("x-goog-api-key") != fake.api_key:
            self._send(401, google_error(401, "API key not valid. Please pass a valid API key."))
            return
        if not isinstance(request.json, dict) or not request.json.get("contents"):
            self._send(400, google_error(400, "* GenerateContentRequest.contents: contents is not specified"))
            return
        reply = fake._next_reply()
        if reply.delay and fake._stopping.wait(reply.delay):
            return
        self._send(reply.status, reply.body, reply.headers)
