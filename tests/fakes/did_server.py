"""A fake D-ID Talks API on 127.0.0.1: real HTTP, D-ID's wire format.

    with FakeDID(api_key="user:secret") as fake:
        fake.talk_statuses = ["started", "error"]          # how every new talk evolves
        fake.enqueue(503, {"kind": "ServiceUnavailable"}, method="POST", path="/talks")
        ...

Default behaviour (``Authorization: Basic <key>`` required, else 401 ``{"message": ...}``):
- ``POST /audios`` (multipart field ``audio``) → 201 ``{"id", "url": "s3://d-id-audios-prod/...", "duration"}``
- ``POST /images`` (multipart field ``image``, must be a picture) → 201 ``{"id", "url": "s3://d-id-images-prod/..."}``
- ``POST /talks`` (JSON; ``source_url`` an uploaded s3 URL or any http(s) URL, ``script.type``
  ``audio`` with an uploaded ``audio_url``) → 201 ``{"id": "tlk_...", "status": "created"}``
- ``GET /talks/{id}``: successive GETs walk ``talk_statuses`` (default created → started →
  done; the last one sticks). ``done`` carries ``result_url``; ``error``/``rejected`` carry
  ``{"error": talk_error}``.
- ``GET /results/{id}.mp4`` (a "signed storage link", no auth; a request *with* an
  Authorization header is refused with 400 like S3 does): a real 512x512 H.264/AAC MP4 made
  by ffmpeg from the source picture and the uploaded audio, so it lasts as long as the audio.
- ``GET /credits`` → ``{"credits": [...], "remaining", "total"}``.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from tests.fakes.stability_server import FakeHTTPService, Recorded
from ytmaker.media.ffmpeg import ffmpeg_bin, media_duration

DEFAULT_STATUSES = ("created", "started", "done")

# Rendered clips by (picture, audio) digest, shared by all fakes in the process: the same
# inputs give the same clip, and tests re-use one narration many times.
_RENDERED: dict[str, bytes] = {}
_RENDER_LOCK = threading.Lock()


@dataclass
class Talk:
    id: str
    source_url: str
    audio_url: str
    statuses: list[str]
    polls: int = 0
    mp4: bytes | None = None


def default_face() -> Image.Image:
    image = Image.new("RGB", (512, 512), (90, 110, 150))
    draw = ImageDraw.Draw(image)
    draw.ellipse((156, 96, 356, 336), fill=(236, 196, 166))
    draw.ellipse((206, 190, 226, 210), fill=(40, 30, 30))
    draw.ellipse((286, 190, 306, 210), fill=(40, 30, 30))
    draw.arc((216, 240, 296, 290), 20, 160, fill=(160, 70, 70), width=6)
    draw.ellipse((96, 380, 416, 640), fill=(40, 56, 96))
    return image


class FakeDID(FakeHTTPService):
    def __init__(self, api_key: str = "ZmFrZUBleGFtcGxlLmNvbQ:fake-did-secret"):
        super().__init__()
        self.api_key = api_key
        self.talk_statuses: list[str] = list(DEFAULT_STATUSES)
        self.talk_error: dict[str, Any] = {"kind": "InternalServerError", "description": "talk processing failed"}
        self.remaining = 40
        self.total = 100
        self.audios: dict[str, Path] = {}  # s3 url -> stored file
        self.durations: dict[str, float] = {}  # s3 url -> seconds
        self.images: dict[str, bytes] = {}  # s3 url -> PNG/JPEG bytes
        self.talks: dict[str, Talk] = {}
        self._ids = itertools.count(1)
        self._dir = Path(tempfile.mkdtemp(prefix="fake-did-"))

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def paths(self, method: str, prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    # -- behaviour ----------------------------------------------------------------------

    def authorized(self, req: Recorded) -> bool:
        if req.path.startswith("/results/"):
            return True  # a signed link: no credentials expected
        return req.headers.get("authorization") == f"Basic {self.api_key}"

    def unauthorized(self) -> Any:
        return {"message": "Unauthorized"}

    def default(self, req: Recorded) -> tuple[int, Any, dict[str, str]]:
        routes = {
            ("POST", "/audios"): self._upload_audio,
            ("POST", "/images"): self._upload_image,
            ("POST", "/talks"): self._create_talk,
            ("GET", "/credits"): self._credits,
        }
        handler = routes.get((req.method, req.path))
        if handler is not None:
            return handler(req)
        if req.method == "GET" and req.path.startswith("/talks/"):
            return self._get_talk(req, req.path.removeprefix("/talks/"))
        if req.method == "GET" and req.path.startswith("/results/"):
            return self._result(req, req.path.removeprefix("/results/").removesuffix(".mp4"))
        if any(req.path == p for _, p in routes) or req.path.startswith(("/talks/", "/results/")):
            return 405, {"kind": "MethodNotAllowed", "description": f"{req.method} {req.path}"}, {}
        return 404, {"kind": "NotFoundError", "description": f"{req.path} not found"}, {}

    @staticmethod
    def _invalid(description: str) -> tuple[int, Any, dict[str, str]]:
        return 400, {"kind": "ValidationError", "description": description}, {}

    def _upload_audio(self, req: Recorded) -> tuple[int, Any, dict[str, str]]:
        if "audio" not in req.files:
            return self._invalid("the multipart field 'audio' is required")
        filename, _type, data = req.files["audio"]
        if not data:
            return self._invalid("the audio file is empty")
        ident = f"aud_{next(self._ids)}"
        stored = self._dir / f"{ident}_{Path(filename or 'audio').name}"
        stored.write_bytes(data)
        try:
            duration = media_duration(stored)
        except Exception:
            return self._invalid("the audio file could not be decoded")
        url = f"s3://d-id-audios-prod/fake-user/{ident}/{stored.name}"
        self.audios[url] = stored
        self.durations[url] = duration
        return 201, {"id": ident, "url": url, "duration": duration, "moderation_metadata": {}}, {}

    def _upload_image(self, req: Recorded) -> tuple[int, Any, dict[str, str]]:
        if "image" not in req.files:
            return self._invalid("the multipart field 'image' is required")
        filename, _type, data = req.files["image"]
        try:
            Image.open(io.BytesIO(data)).load()
        except Exception:
            return self._invalid("the image could not be decoded")
        ident = f"img_{next(self._ids)}"
        url = f"s3://d-id-images-prod/fake-user/{ident}/{Path(filename or 'image.png').name}"
        self.images[url] = data
        return 201, {"id": ident, "url": url}, {}

    def _create_talk(self, req: Recorded) -> tuple[int, Any, dict[str, str]]:
        if not req.headers.get("content-type", "").startswith("application/json"):
            return self._invalid("the body must be JSON")
        try:
            body = req.json()
        except ValueError:
            return self._invalid("the body is not valid JSON")
        source = body.get("source_url")
        script = body.get("script") or {}
        if not isinstance(source, str) or not source:
            return self._invalid("source_url is required")
        if source.startswith("s3://") and source not in self.images:
            return self._invalid(f"source_url {source} is not an uploaded image")
        if not source.startswith(("s3://", "http://", "https://")):
            return self._invalid("source_url must be an s3 or http(s) URL")
        if script.get("type") != "audio":
            return self._invalid("this fake supports script.type 'audio' only")
        audio_url = script.get("audio_url")
        if audio_url not in self.audios:
            return self._invalid(f"script.audio_url {audio_url!r} is not an uploaded audio")
        talk = Talk(f"tlk_{next(self._ids)}", source, audio_url, list(self.talk_statuses))
        self.talks[talk.id] = talk
        return 201, {"id": talk.id, "object": "talk", "created_by": "fake-user", "status": "created"}, {}

    def _get_talk(self, req: Recorded, talk_id: str) -> tuple[int, Any, dict[str, str]]:
        talk = self.talks.get(talk_id)
        if talk is None:
            return 404, {"kind": "NotFoundError", "description": f"talk {talk_id} not found"}, {}
        status = talk.statuses[min(talk.polls, len(talk.statuses) - 1)]
        talk.polls += 1
        body: dict[str, Any] = {
            "id": talk.id, "object": "talk", "status": status, "source_url": talk.source_url,
            "audio_url": talk.audio_url, "config": {"stitch": True, "result_format": ".mp4"},
        }
        if status == "done":
            self._render(talk)
            body["result_url"] = f"{self.url}/results/{talk.id}.mp4?AWSAccessKeyId=FAKE&Signature=fake"
            body["duration"] = self.durations[talk.audio_url]
        elif status in ("error", "rejected"):
            body["error"] = dict(self.talk_error)
        return 200, body, {}

    def _render(self, talk: Talk) -> None:
        if talk.mp4 is not None:
            return
        source = self.images.get(talk.source_url)
        face = Image.open(io.BytesIO(source)).convert("RGB") if source else default_face()
        face = face.resize((512, 512))
        audio = self.audios[talk.audio_url]
        key = hashlib.sha256(face.tobytes() + audio.read_bytes()).hexdigest()
        with _RENDER_LOCK:
            if key not in _RENDERED:
                face_png = self._dir / f"{talk.id}_face.png"
                face.save(face_png)
                out = self._dir / f"{talk.id}.mp4"
                subprocess.run(
                    [ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
                     "-loop", "1", "-framerate", "25", "-i", str(face_png), "-i", str(audio),
                     "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "stillimage",
                     "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart", str(out)],
                    check=True, capture_output=True,
                )
                _RENDERED[key] = out.read_bytes()
            talk.mp4 = _RENDERED[key]

    def _result(self, req: Recorded, talk_id: str) -> tuple[int, Any, dict[str, str]]:
        if "authorization" in req.headers:
            return 400, "<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>", {
                "Content-Type": "application/xml"
            }
        talk = self.talks.get(talk_id)
        if talk is None or talk.mp4 is None:
            return 403, "<Error><Code>AccessDenied</Code></Error>", {"Content-Type": "application/xml"}
        return 200, talk.mp4, {"Content-Type": "video/mp4"}

    def _credits(self, req: Recorded) -> tuple[int, Any, dict[str, str]]:
        credits = [{"owner_id": "fake-user", "remaining": self.remaining, "total": self.total, "product_id": "fake"}]
        return 200, {"credits": credits, "remaining": self.remaining, "total": self.total}, {}
