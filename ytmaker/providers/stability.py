"""Segment images from Stability AI's Stable Image API (v2beta, "core" model).

One multipart POST per segment to ``{base}/v2beta/stable-image/generate/core`` with
``Accept: image/*``: the reply's body is the image itself (16:9 comes back as 1344x768),
scaled and cropped here to exactly 1920x1080 and written as a PNG atomically.

Every failure is a :class:`ProviderError` with the ``STABILITY`` prefix; the API key never
appears in a message (it is scrubbed from anything the service echoes back).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageOps

from ytmaker.media.files import save_png
from ytmaker.core.media_types import HEIGHT, WIDTH
from ytmaker.core.requests import ImageRequest
from ytmaker.providers.http import PooledHttpClient
from ytmaker.providers.errors import ProviderError, kind_for_status
from ytmaker.providers.keys import require_key, settings_key

PROVIDER = "STABILITY"
DEFAULT_BASE_URL = "https://api.stability.ai"
GENERATE_PATH = "/v2beta/stable-image/generate/core"
BALANCE_PATH = "/v1/user/balance"

# Appended to every description: one consistent look across a video's segments.
STYLE_SUFFIX = "clean editorial illustration, cinematic lighting, rich colours, widescreen composition"
NEGATIVE_PROMPT = "text, letters, captions, watermark, logo, signature, blurry, low quality"
MAX_PROMPT_CHARS = 10_000  # the API's limit
_MODERATION_WORDS = ("moderation", "content policy", "content_policy", "flagged", "policy violation")


def _error_body(response: httpx.Response) -> tuple[str, list[str]]:
    """The API's error JSON is ``{"id", "name", "errors": [...]}``; anything else is tolerated."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return "", [response.text[:300]] if response.text else []
    if not isinstance(body, dict):
        return "", [str(body)[:300]]
    name = str(body.get("name") or "")
    errors = body.get("errors")
    if isinstance(errors, list):
        messages = [str(e) for e in errors]
    elif errors:
        messages = [str(errors)]
    else:
        messages = [str(body.get("message"))] if body.get("message") else []
    return name, messages


class StabilityImageGenerator(PooledHttpClient):
    """ImageGenerator backed by Stability AI's Stable Image Core."""

    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL, timeout: float = 60.0):
        self._api_key = require_key(PROVIDER, api_key)
        self.base_url = base_url.rstrip("/")
        self._init_http(timeout)

    @classmethod
    def from_settings(cls, settings: Any) -> "StabilityImageGenerator":
        return cls(settings_key(settings, PROVIDER), settings.stability_base_url, settings.http_timeout_seconds)

    def __repr__(self) -> str:  # never the key
        return f"StabilityImageGenerator(base_url={self.base_url!r}, timeout={self.timeout})"

    # -- HTTP ---------------------------------------------------------------------------

    def _headers(self, accept: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}", "Accept": accept}

    def _send(self, method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
        return self._request_or_raise(PROVIDER, method, f"{self.base_url}{path}", what=what, **kwargs)

    def _raise_for_error(self, response: httpx.Response, what: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        name, messages = _error_body(response)
        text = "; ".join(messages)
        lowered = f"{name} {text}".lower()
        if name == "content_moderation" or (
            status in (400, 403, 422) and any(word in lowered for word in _MODERATION_WORDS)
        ):
            kind = "CONTENT_POLICY"
        elif status == 402 or name in ("payment_required", "insufficient_balance"):
            kind = "QUOTA_EXCEEDED"
        else:
            kind = kind_for_status(status)
        detail = f"{what}: HTTP {status}" + (f" {name}" if name else "") + (f": {text}" if text else "")
        raise self._reply_error(PROVIDER, kind, detail, response, details={"name": name} if name else None)

    # -- API ----------------------------------------------------------------------------

    @staticmethod
    def prompt_for(request: ImageRequest) -> str:
        description = " ".join(request.description.split())
        room = MAX_PROMPT_CHARS - len(STYLE_SUFFIX) - 2
        return f"{description[:room]}. {STYLE_SUFFIX}"

    @staticmethod
    def seed_for(request: ImageRequest) -> int:
        """The same segment asks for the same seed: a rerun gives a similar picture; a remake
        (a higher revision) asks for another seed, or the paid call would return the same image."""
        digest = hashlib.sha256(request.seed_text().encode()).digest()
        return int.from_bytes(digest[:4], "big") % 4_294_967_294

    def generate(self, request: ImageRequest, out_path: Path) -> Path:
        what = f"image for segment {request.segment_index}"
        form = {
            "prompt": self.prompt_for(request),
            "negative_prompt": NEGATIVE_PROMPT,
            "aspect_ratio": "16:9",
            "output_format": "png",
            "seed": str(self.seed_for(request)),
        }
        response = self._send(
            "POST",
            GENERATE_PATH,
            what=what,
            headers=self._headers("image/*"),
            data=form,
            files={"none": ""},  # forces multipart/form-data, as the API requires
        )
        self._raise_for_error(response, what)

        if response.headers.get("finish-reason", "").upper() == "CONTENT_FILTERED":
            raise ProviderError(
                PROVIDER, "CONTENT_POLICY", f"{what}: the generated image was filtered (finish-reason CONTENT_FILTERED)",
                status=response.status_code,
            )
        content_type = response.headers.get("content-type", "")
        try:
            image = Image.open(io.BytesIO(response.content))
            image.load()
        except Exception:
            raise ProviderError(
                PROVIDER, "INVALID_RESPONSE",
                f"{what}: HTTP {response.status_code} with {content_type or 'no content type'}, "
                f"{len(response.content)} bytes, not an image",
                status=response.status_code,
            ) from None

        fitted = ImageOps.fit(image.convert("RGB"), (WIDTH, HEIGHT), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
        save_png(fitted, Path(out_path))
        return Path(out_path)

    def get_balance(self) -> float:
        """Remaining credits of the account (``GET /v1/user/balance``)."""
        what = "credit balance"
        response = self._send("GET", BALANCE_PATH, what=what, headers=self._headers("application/json"))
        self._raise_for_error(response, what)
        try:
            return float(response.json()["credits"])
        except (ValueError, KeyError, TypeError):
            raise ProviderError(
                PROVIDER, "INVALID_RESPONSE", f"{what}: no numeric 'credits' in the reply", status=response.status_code
            ) from None


from ytmaker.providers import register  # noqa: E402

register("image", "stability", StabilityImageGenerator.from_settings)
