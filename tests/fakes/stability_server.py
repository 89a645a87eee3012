"""A fake Stability AI REST API on 127.0.0.1: real HTTP, the v2beta Stable Image wire format.

    with FakeStability(api_key="sk-test") as fake:
        fake.enqueue(429, {"name": "rate_limit_exceeded", "errors": ["slow down"]}, {"Retry-After": "3"})
        ...  # the next matching request gets the 429, later ones the default behaviour
        fake.requests[-1].form["prompt"]

Default behaviour:
- ``POST /v2beta/stable-image/generate/core`` (multipart/form-data; ``prompt`` required,
  ``aspect_ratio`` and ``output_format`` checked) answers a real PNG drawn from the prompt at the
  aspect ratio's native size (16:9 → 1344x768) with ``finish-reason``/``seed`` headers, or the
  base64 JSON form when ``Accept: application/json``.
- ``GET /v1/user/balance`` answers ``{"credits": <fake.credits>}``.
- A missing or wrong ``Authorization: Bearer <key>`` gets 401; unknown paths 404.

``FakeHTTPService`` (recording, auth check, default routing) is shared with the D-ID fake; the
server thread and scripted replies (``enqueue``) come from ``tests.fakes.http_base.FakeServer``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image, ImageDraw

from tests.fakes.http_base import FakeServer, QuietHandler

GENERATE_PATH = "/v2beta/stable-image/generate/core"
BALANCE_PATH = "/v1/user/balance"

# Stable Image Core's output size for each aspect ratio (about one megapixel).
SIZES = {
    "16:9": (1344, 768), "1:1": (1024, 1024), "21:9": (1536, 640), "2:3": (832, 1216), "3:2": (1216, 832),
    "4:5": (896, 1088), "5:4": (1088, 896), "9:16": (768, 1344), "9:21": (640, 1536),
}
OUTPUT_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


@dataclass
class Recorded:
    """One request as the fake received it. Header names are lower-case."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str | None, str, bytes]] = field(default_factory=dict)  # name -> (filename, type, data)

    def json(self) -> Any:
        return json.loads(self.body)


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple[str | None, str, bytes]]]:
    """multipart/form-data → (text fields, file fields), with the email package's MIME parser."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise ValueError("not a multipart body")
    form: dict[str, str] = {}
    files: dict[str, tuple[str | None, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            raise ValueError("a part without a name")
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = (filename, part.get_content_type(), data)
        else:
            form[name] = data.decode("utf-8")
    return form, files


def draw_picture(prompt: str, size: tuple[int, int]) -> Image.Image:
    """A real picture whose colours and shapes depend on the prompt."""
    digest = hashlib.sha256(prompt.encode()).digest()
    w, h = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    top, bottom = digest[0:3], digest[3:6]
    for y in range(h):
        t = y / h
        draw.line([(0, y), (w, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom)))
    for i in range(6):
        x, y, r = digest[6 + i] / 255 * w, digest[12 + i] / 255 * h, 40 + digest[18 + i] / 255 * h / 4
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(digest[20 + i : 23 + i]))
    # A frame marks the edges, so a test can see how the client cropped.
    draw.rectangle((0, 0, w - 1, h - 1), outline=(255, 255, 255), width=8)
    return image


class FakeHTTPService(FakeServer):
    """Request recording and an auth check; scripted replies (``enqueue``, served after the
    auth check, before the default) and the server itself come from ``FakeServer``."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._init_server()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- behaviour (subclasses fill in) -------------------------------------------------

    def authorized(self, req: Recorded) -> bool:
        return True

    def unauthorized(self) -> Any:
        return {"error": "unauthorized"}

    def default(self, req: Recorded) -> tuple[int, Any, dict[str, str]]:
        return 404, {"error": "not found"}, {}

    def handle(self, req: Recorded) -> tuple[int, Any, dict[str, str], float]:
        if not self.authorized(req):
            return 401, self.unauthorized(), {}, 0.0
        scripted = self.take_reply(req.method, req.path)
        if scripted is not None:
            return scripted.status, scripted.body, scripted.headers, scripted.delay
        return (*self.default(req), 0.0)


class FakeStability(FakeHTTPService):
    def __init__(self, api_key: str = "sk-test-stability", *, credits: float = 25.0):
        super().__init__()
        self.api_key = api_key
        self.credits = credits

    def generate_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == GENERATE_PATH]

    def authorized(self, req: Recorded) -> bool:
        return req.headers.get("authorization") == f"Bearer {self.api_key}"

    def unauthorized(self) -> Any:
        return {"id": "e401", "name": "unauthorized", "errors": ["authorization: invalid or missing API key"]}

    def default(self, req: Recorded) -> tuple[int, Any, dict[str, str]]:
        if req.path == GENERATE_PATH:
            if req.method != "POST":
                return 405, {"name": "method_not_allowed", "errors": [f"{req.method} not allowed"]}, {}
            return self._generate(req)
        if req.path == BALANCE_PATH:
            if req.method != "GET":
                return 405, {"name": "method_not_allowed", "errors": [f"{req.method} not allowed"]}, {}
            return 200, {"credits": self.credits}, {}
        return 404, {"id": "e404", "name": "not_found", "errors": [f"{req.path} not found"]}, {}

    def _generate(self, req: Recorded) -> tuple[int, Any, dict[str, str]]:
        def bad(message: str) -> tuple[int, Any, dict[str, str]]:
            return 400, {"id": "e400", "name": "bad_request", "errors": [message]}, {}

        if not req.headers.get("content-type", "").startswith("multipart/form-data"):
            return bad("the request must be multipart/form-data")
        prompt = req.form.get("prompt", "")
        if not prompt.strip():
            return bad("prompt: cannot be empty")
        if len(prompt) > 10_000:
            return bad("prompt: must be at most 10000 characters")
        aspect = req.form.get("aspect_ratio", "1:1")
        if aspect not in SIZES:
            return bad(f"aspect_ratio: must be one of {sorted(SIZES)}")
        fmt = req.form.get("output_format", "png")
        if fmt not in OUTPUT_FORMATS:
            return bad("output_format: must be one of png, jpeg, webp")
        accept = req.headers.get("accept", "")
        if accept not in ("image/*", "application/json"):
            return bad("accept: must be image/* or application/json")
        seed = req.form.get("seed", "0")
        buffer = io.BytesIO()
        draw_picture(prompt, SIZES[aspect]).save(buffer, format=OUTPUT_FORMATS[fmt])
        if accept == "application/json":
            data = {"image": base64.b64encode(buffer.getvalue()).decode(), "finish_reason": "SUCCESS", "seed": int(seed)}
            return 200, data, {}
        return 200, buffer.getvalue(), {"Content-Type": f"image/{fmt}", "finish-reason": "SUCCESS", "seed": seed}


class _Handler(QuietHandler):
    fake: FakeHTTPService
    disable_nagle_algorithm = True  # small replies at once, not after a delayed ACK (~40 ms)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Recorded(self.command, split.path, parse_qs(split.query), headers, body)
        if headers.get("content-type", "").startswith("multipart/form-data"):
            try:
                req.form, req.files = parse_multipart(headers["content-type"], body)
            except Exception as exc:
                self._reply(400, {"name": "bad_request", "errors": [f"malformed multipart body: {exc}"]}, {})
                return
        with self.fake._lock:
            self.fake.requests.append(req)
        self.fake.checkpoint(req.method, req.path)
        status, reply, reply_headers, delay = self.fake.handle(req)
        if delay:
            time.sleep(delay)
        self._reply(status, reply, reply_headers)

    def _reply(self, status: int, body: Any, headers: dict[str, str]) -> None:
        self.send_body(status, body, headers)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch


FakeHTTPService.handler = _Handler
