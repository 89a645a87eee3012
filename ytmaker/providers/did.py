"""Talking-presenter clips from D-ID's Talks API.

1. ``POST {base}/audios`` (multipart, field ``audio``): upload the narration → ``{"url"}``.
2. Without ``DID_SOURCE_URL``, ``POST {base}/images`` (field ``image``): upload a presenter
   portrait drawn here (512x512 PNG) → ``{"url"}``; uploaded once per generator.
3. ``POST {base}/talks`` with that picture and ``script.type = "audio"`` → ``{"id"}``.
4. Poll ``GET {base}/talks/{id}``: created → started → done (download ``result_url``, a plain
   GET without our credentials, since it is a signed storage link) or error / rejected.

Every failure is a :class:`ProviderError` with the ``DID`` prefix; the key never appears in
a message. Transient failures while polling (429, 5xx, timeouts) are retried inside the
poll loop until ``max_wait``, so an already-paid talk is not recreated by a task retry.
"""

from __future__ import annotations

import io
import json
import mimetypes
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw, ImageFilter

from ytmaker.media.files import atomic_output
from ytmaker.core.requests import AvatarRequest
from ytmaker.providers.http import PooledHttpClient
from ytmaker.providers.http import scrub as _scrub
from ytmaker.providers.errors import ProviderError, kind_for_status
from ytmaker.providers.keys import require_key, settings_key

PROVIDER = "DID"
DEFAULT_BASE_URL = "https://api.d-id.com"
_AUDIO_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".ogg": "audio/ogg"}


def _describe_error(body: Any) -> str:
    """D-ID errors look like ``{"kind": "...", "description": "..."}``; talks carry them under
    ``"error"``; some gateways answer ``{"message": "..."}``."""
    if not isinstance(body, dict):
        return str(body)[:300] if body else ""
    inner = body.get("error") if isinstance(body.get("error"), dict) else body
    kind = inner.get("kind") or ""
    description = inner.get("description") or inner.get("message") or ""
    if isinstance(inner.get("details"), (dict, list, str)) and not description:
        description = json.dumps(inner["details"])[:300]
    return ": ".join(str(p) for p in (kind, description) if p)


def draw_presenter(size: int = 512) -> Image.Image:
    """A simple front-facing portrait: head, hair, eyes, smile, shoulders and a shirt collar."""
    ss = 2  # draw at twice the size, then shrink: smooth edges
    n = size * ss
    image = Image.new("RGB", (n, n))
    draw = ImageDraw.Draw(image)
    for y in range(n):  # soft studio backdrop
        t = y / n
        draw.line([(0, y), (n, y)], fill=(int(70 + 40 * t), int(96 + 30 * t), int(140 + 20 * t)))

    def s(*values: float) -> list[float]:
        return [v * n for v in values]

    skin, shadow, hair = (236, 196, 166), (214, 166, 136), (62, 44, 36)
    draw.ellipse(s(0.10, 0.76, 0.90, 1.30), fill=(40, 56, 96))  # shoulders / jacket
    draw.polygon([tuple(s(0.40, 0.76)), tuple(s(0.60, 0.76)), tuple(s(0.50, 0.92))], fill=(242, 244, 248))
    draw.rectangle(s(0.44, 0.62, 0.56, 0.80), fill=shadow)  # neck
    draw.ellipse(s(0.27, 0.14, 0.73, 0.56), fill=hair)  # hair behind the head
    draw.ellipse(s(0.25, 0.40, 0.31, 0.52), fill=shadow)  # ears
    draw.ellipse(s(0.69, 0.40, 0.75, 0.52), fill=shadow)
    draw.ellipse(s(0.30, 0.20, 0.70, 0.70), fill=skin)  # face
    draw.chord(s(0.28, 0.13, 0.72, 0.44), 180, 360, fill=hair)  # fringe
    for cx in (0.41, 0.59):
        draw.ellipse(s(cx - 0.045, 0.415, cx + 0.045, 0.465), fill=(250, 250, 250))
        draw.ellipse(s(cx - 0.02, 0.42, cx + 0.02, 0.46), fill=(70, 48, 34))
        draw.ellipse(s(cx - 0.008, 0.432, cx + 0.004, 0.444), fill=(255, 255, 255))
        draw.line(s(cx - 0.05, 0.385, cx + 0.05, 0.38), fill=hair, width=int(0.012 * n))  # brows
    draw.line(s(0.50, 0.46, 0.485, 0.545, 0.51, 0.55), fill=shadow, width=int(0.008 * n))  # nose
    draw.arc(s(0.43, 0.54, 0.57, 0.63), 20, 160, fill=(170, 80, 80), width=int(0.012 * n))  # smile
    image = image.filter(ImageFilter.GaussianBlur(1))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def presenter_png() -> bytes:
    buffer = io.BytesIO()
    draw_presenter().save(buffer, format="PNG")
    return buffer.getvalue()


class DIDAvatarGenerator(PooledHttpClient):
    OUTPUT_SETTINGS = ("did_source_url",)
    """AvatarGenerator backed by D-ID Talks (an audio script, stitched into the full picture)."""

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 60.0,
        poll_interval: float = 1.0,
        max_wait: float = 300.0,
        source_url: str | None = None,
    ):
        self._api_key = require_key(PROVIDER, api_key)
        self.base_url = base_url.rstrip("/")
        self._init_http(timeout)
        self.poll_interval = float(poll_interval)
        self.max_wait = float(max_wait)
        self.source_url = source_url or None
        self._uploaded_source: str | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> "DIDAvatarGenerator":
        return cls(
            settings_key(settings, PROVIDER),
            settings.did_base_url,
            settings.http_timeout_seconds,
            source_url=settings.did_source_url,
        )

    def __repr__(self) -> str:  # never the key
        return f"DIDAvatarGenerator(base_url={self.base_url!r}, source_url={self.source_url!r})"

    # -- HTTP ---------------------------------------------------------------------------

    def _request(
        self, method: str, url: str, *, what: str, authorized: bool = True, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Accept": "application/json"} if authorized else {}
        if authorized:
            headers["Authorization"] = f"Basic {self._api_key}"
        return self._request_or_raise(PROVIDER, method, url, what=what, headers=headers, **kwargs)

    def _raise_for_error(self, response: httpx.Response, what: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:300]
        described = _describe_error(body)
        if status == 402:
            kind = "QUOTA_EXCEEDED"
        elif status in (400, 403, 451) and "moderat" in described.lower():
            kind = "CONTENT_POLICY"
        else:
            kind = kind_for_status(status)
        raise self._reply_error(PROVIDER, kind, f"{what}: HTTP {status}" + (f": {described}" if described else ""), response)

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProviderError(
                PROVIDER, "INVALID_RESPONSE", f"{what}: the reply is not a JSON object", status=response.status_code
            )
        return body

    def _api(self, method: str, path: str, *, what: str, **kwargs: Any) -> dict[str, Any]:
        response = self._request(method, f"{self.base_url}{path}", what=what, **kwargs)
        self._raise_for_error(response, what)
        return self._json(response, what)

    def _invalid(self, detail: str, status: int | None = None) -> ProviderError:
        return ProviderError(PROVIDER, "INVALID_RESPONSE", _scrub(detail, self._api_key)[:600], status=status)

    # -- steps --------------------------------------------------------------------------

    def _upload(self, path: str, what: str, files: dict[str, Any]) -> str:
        """POST a file; return the ``url`` D-ID stores it under."""
        url = self._api("POST", path, what=what, files=files).get("url")
        if not isinstance(url, str) or not url:
            raise self._invalid(f"{what}: no 'url' in the reply")
        return url

    def upload_audio(self, audio_path: Path) -> str:
        audio_path = Path(audio_path)
        mime = _AUDIO_TYPES.get(audio_path.suffix.lower()) or mimetypes.guess_type(audio_path.name)[0] or "audio/wav"
        return self._upload(
            "/audios", f"uploading {audio_path.name}", {"audio": (audio_path.name, audio_path.read_bytes(), mime)}
        )

    def upload_presenter(self) -> str:
        return self._upload(
            "/images", "uploading the presenter picture", {"image": ("presenter.png", presenter_png(), "image/png")}
        )

    def _source(self) -> str:
        if self.source_url:
            return self.source_url
        with self._lock:
            if self._uploaded_source is None:
                self._uploaded_source = self.upload_presenter()
            return self._uploaded_source

    def create_talk(self, source_url: str, audio_url: str, what: str) -> str:
        payload = {
            "source_url": source_url,
            "script": {"type": "audio", "audio_url": audio_url},
            "config": {"stitch": True},
        }
        body = self._api("POST", "/talks", what=f"{what}: creating the talk", json=payload)
        talk_id = body.get("id")
        if not isinstance(talk_id, str) or not talk_id:
            raise self._invalid(f"{what}: the created talk has no 'id'")
        return talk_id

    def wait_for_talk(self, talk_id: str, what: str) -> str:
        """Poll until done; return ``result_url``."""
        deadline = time.monotonic() + self.max_wait
        status = "unknown"
        while True:
            try:
                body = self._api("GET", f"/talks/{talk_id}", what=f"{what}: polling talk {talk_id}")
            except ProviderError as exc:
                if not exc.retryable or time.monotonic() >= deadline:
                    raise
                body = {"status": status}  # transient: try again after the interval
            status = str(body.get("status") or "unknown")
            if status == "done":
                result_url = body.get("result_url")
                if not isinstance(result_url, str) or not result_url:
                    raise self._invalid(f"{what}: talk {talk_id} is done but has no 'result_url'")
                return result_url
            if status in ("error", "rejected"):
                described = _describe_error(body) or "no description"
                kind = "CONTENT_POLICY" if status == "rejected" else "INVALID_RESPONSE"
                raise ProviderError(
                    PROVIDER, kind, _scrub(f"{what}: talk {talk_id} ended '{status}': {described}", self._api_key)[:600]
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProviderError(
                    PROVIDER, "TIMEOUT",
                    f"{what}: talk {talk_id} not done after {self.max_wait:g} s (last status '{status}')",
                )
            time.sleep(min(self.poll_interval, remaining))

    def download(self, result_url: str, out_path: Path, what: str) -> Path:
        # A signed storage link: no Authorization header (S3 refuses two auth mechanisms).
        response = self._request("GET", result_url, what=f"{what}: downloading the clip", authorized=False)
        self._raise_for_error(response, f"{what}: downloading the clip")
        data = response.content
        if len(data) < 12 or data[4:8] != b"ftyp":
            raise self._invalid(
                f"{what}: the result is not an MP4 ({response.headers.get('content-type', 'no content type')}, "
                f"{len(data)} bytes)",
                status=response.status_code,
            )
        with atomic_output(Path(out_path), ".mp4") as tmp:
            tmp.write_bytes(data)
        return Path(out_path)

    def generate(self, request: AvatarRequest, out_path: Path) -> Path:
        what = f"{request.which} avatar"
        audio_url = self.upload_audio(Path(request.audio_path))
        talk_id = self.create_talk(self._source(), audio_url, what)
        result_url = self.wait_for_talk(talk_id, what)
        return self.download(result_url, Path(out_path), what)

    def get_credits(self) -> dict[str, Any]:
        """``{"remaining", "total", ...}`` of the account (``GET /credits``)."""
        what = "credits"
        body = self._api("GET", "/credits", what=what)
        if "remaining" not in body:
            raise self._invalid(f"{what}: no 'remaining' in the reply")
        return body


from ytmaker.providers import register  # noqa: E402

register("avatar", "did", DIDAvatarGenerator.from_settings)
