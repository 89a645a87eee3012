"""A fake Google Cloud Text-to-Speech v1 API on 127.0.0.1, for tests.

It speaks the wire protocol: ``POST /v1/text:synthesize?key=...&alt=json`` with a JSON body
``{input: {text}, voice: {languageCode, name}, audioConfig: {audioEncoding}}`` and answers
``{"audioContent": <base64 MP3>}``. The MP3 is real: the requested text spoken by espeak-ng
and encoded with ffmpeg/libmp3lame, so longer text gives longer audio (a sine tone of a
text-dependent length if espeak-ng is missing). Every request is recorded; tests script
replies with :meth:`FakeTTS.enqueue` before the server falls back to the real reply.

    with FakeTTS() as tts:
        tts.enqueue(429, headers={"Retry-After": "3"})
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SYNTHESIZE_PATH = "/v1/text:synthesize"

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
    error: dict[str, Any] = {"code": status, "message": message, "status": _STATUS_NAMES.get(status, "UNKNOWN")}
    if details:
        error["details"] = details
    return {"error": error}


def _ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@lru_cache(maxsize=256)
def synthesize_mp3(text: str, language_code: str = "en-US") -> bytes:
    """Speak ``text`` (espeak-ng) and encode it as MP3 (libmp3lame), 24 kHz mono like Google's."""
    voice = "cmn" if language_code.lower().startswith(("cmn", "zh", "yue")) else "en-us"
    with tempfile.TemporaryDirectory(prefix="fake-tts-") as tmp:
        wav = Path(tmp) / "speech.wav"
        espeak = shutil.which("espeak-ng")
        if espeak:
            subprocess.run([espeak, "-v", voice, "-w", str(wav)], input=text.encode("utf-8"), check=True, capture_output=True)
            source = ["-i", str(wav)]
        else:
            seconds = max(0.5, min(20.0, len(text) / 12))
            source = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds:.2f}"]
        result = subprocess.run(
            [_ffmpeg(), "-nostdin", "-loglevel", "error", *source, "-ac", "1", "-ar", "24000",
             "-c:a", "libmp3lame", "-b:a", "48k", "-f", "mp3", "pipe:1"],
            check=True,
            capture_output=True,
        )
        return result.stdout


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes -> sent as is; None -> the real reply
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class RecordedRequest:
    method: str
    path: str
    raw_path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    json: Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass


class FakeTTS:
    def __init__(self, api_key: str = "fake-tts-key-9876543210"):
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "FakeTTS":
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-tts", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeTTS":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "the fake server is not running"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def enqueue(self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None, delay: float = 0.0) -> None:
        """Answer the next synthesize call with this; queued replies go first, in order.
        A non-2xx status with no body gets a Google-style error body."""
        if body is None and status >= 300:
            body = google_error(status, f"fake error {status}")
        with self._lock:
            self._queue.append(Reply(status, body, dict(headers or {}), delay))

    def _next_reply(self) -> Reply | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTTS
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
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
            pass

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
        if request.path != SYNTHESIZE_PATH:
            self._send(404, google_error(404, f"{request.path} is not a method of texttospeech v1"))
            return
        key = (request.query.get("key") or [request.headers.get("x-goog-api-key", "")])[0]
        if key != fake.api_key:
            self._send(401, google_error(401, "API key not valid. Please pass a valid API key."))
            return
        body = request.json if isinstance(request.json, dict) else {}
        text = (body.get("input") or {}).get("text")
        voice = body.get("voice") or {}
        encoding = (body.get("audioConfig") or {}).get("audioEncoding")
        if not text or not voice.get("languageCode") or not encoding:
            self._send(400, google_error(400, "Invalid request: input.text, voice.languageCode and audioConfig.audioEncoding are required."))
            return
        reply = fake._next_reply()
        if reply is not None:
            if reply.delay and fake._stopping.wait(reply.delay):
                return
            self._send(reply.status, reply.body, reply.headers)
            return
        if encoding != "MP3":
            self._send(400, google_error(400, f"this fake only speaks MP3, not {encoding}"))
            return
        audio = synthesize_mp3(text, voice["languageCode"])
        self._send(200, {"audioContent": base64.b64encode(audio).decode("ascii")})
