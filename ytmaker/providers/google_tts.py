"""Google Cloud Text-to-Speech through google-api-python-client: one MP3 per call.

``texttospeech v1 text.synthesize`` is built from the discovery document that ships in the
package (no network for discovery). The API key goes as ``?key=`` (the client library's only
way to send a developer key); it is scrubbed from every error message. Every failure is a
:class:`ProviderError` with a ``TTS_*`` code; the synthesizer does not retry (Prefect does).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

import httplib2
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from ytmaker.providers.errors import ProviderError, parse_retry_after
from ytmaker.providers.errors import snippet as _snippet
from ytmaker.providers.google_errors import GoogleError
from ytmaker.providers.keys import require_key, settings_key
from ytmaker.core.settings import Settings

PROVIDER = "TTS"
MAX_INPUT_BYTES = 5000  # the API's limit for input.text


def language_code_for_voice(voice: str) -> str:
    """``cmn-TW-Standard-A`` -> ``cmn-TW``; ``en-US-Neural2-C`` -> ``en-US``."""
    parts = voice.split("-")
    return "-".join(parts[:2]) if len(parts) >= 2 else voice


class _KeyHeaderHttp(httplib2.Http):
    """Sends the API key as the ``x-goog-api-key`` header. The client library's own
    ``developerKey`` puts it in the URL, which its DEBUG log then prints."""

    def __init__(self, api_key: str, **kwargs: Any):
        super().__init__(**kwargs)
        self._api_key = api_key

    def request(self, uri, method="GET", body=None, headers=None, *args, **kwargs):  # noqa: ANN001
        headers = dict(headers or {})
        headers["x-goog-api-key"] = self._api_key
        return super().request(uri, method, body, headers, *args, **kwargs)


class GoogleSpeechSynthesizer:
    OUTPUT_SETTINGS = ("google_tts_voice_zh", "google_tts_voice_en")
    """Speaks text with a Google Cloud TTS voice and writes an MP3 file."""

    def __init__(
        self,
        api_key: str,
        voice_zh: str = "cmn-TW-Standard-A",
        voice_en: str = "en-US-Standard-C",
        base_url: str = "https://texttospeech.googleapis.com/",
        timeout: float = 60.0,
    ):
        self._api_key = require_key(PROVIDER, api_key)
        self.voice_zh = voice_zh
        self.voice_en = voice_en
        # The client library joins "v1/text:synthesize" onto the endpoint with urljoin: a
        # path prefix survives only with a trailing slash.
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self._service: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "GoogleSpeechSynthesizer":
        return cls(
            api_key=settings_key(settings, PROVIDER),
            voice_zh=settings.google_tts_voice_zh,
            voice_en=settings.google_tts_voice_en,
            base_url=settings.google_tts_base_url,
            timeout=settings.http_timeout_seconds,
        )

    def __repr__(self) -> str:  # never show the key
        return f"GoogleSpeechSynthesizer(voice_zh={self.voice_zh!r}, voice_en={self.voice_en!r}, base_url={self.base_url!r})"

    def voice_for(self, language: str) -> dict[str, str]:
        name = self.voice_zh if language.lower().startswith(("zh", "cmn")) else self.voice_en
        return {"languageCode": language_code_for_voice(name), "name": name}

    def request_body(self, text: str, language: str) -> dict[str, Any]:
        return {
            "input": {"text": text},
            "voice": self.voice_for(language),
            "audioConfig": {"audioEncoding": "MP3"},
        }

    def _http(self) -> httplib2.Http:
        # One Http per call: httplib2 connections are not thread-safe, and Prefect runs
        # several narration tasks at once.
        return _KeyHeaderHttp(self._api_key, timeout=self.timeout)

    def _get_service(self) -> Any:
        with self._lock:
            if self._service is None:
                self._service = build(
                    "texttospeech",
                    "v1",
                    client_options={"api_endpoint": self.base_url},
                    static_discovery=True,
                    cache_discovery=False,
                    http=self._http(),
                )
            return self._service

    def _redact(self, text: str) -> str:
        text = text.replace(self._api_key, "***")
        return re.sub(r"([?&]key=)[^&\s\"']*", r"\1***", text)

    # ------------------------------------------------------------------ calling

    def synthesize(self, text: str, language: str, out_path: Path) -> Path:
        size = len(text.encode("utf-8"))
        if not text.strip():
            raise ProviderError(PROVIDER, "BAD_REQUEST", "the text to speak is empty")
        if size > MAX_INPUT_BYTES:
            raise ProviderError(
                PROVIDER, "BAD_REQUEST", f"the text is {size} bytes; the API accepts at most {MAX_INPUT_BYTES}"
            )
        body = self.request_body(text, language)
        # Errors are raised after the except blocks, so that the library's exception (whose
        # text holds the URL with ?key=...) is not even kept as __context__.
        error: ProviderError | None = None
        try:
            request = self._get_service().text().synthesize(body=body)
            reply = request.execute(http=self._http(), num_retries=0)
        except HttpError as exc:
            error = self._status_error(exc)
        except (socket.timeout, TimeoutError) as exc:
            error = ProviderError(PROVIDER, "TIMEOUT", f"{type(exc).__name__} after {self.timeout:g}s at {self.base_url}")
        except (ConnectionError, httplib2.HttpLib2Error, OSError) as exc:
            error = ProviderError(PROVIDER, "CONNECTION", f"{type(exc).__name__}: {self._redact(str(exc))} ({self.base_url})")
        except ValueError as exc:  # the client could not read the 2xx body as JSON
            error = ProviderError(PROVIDER, "INVALID_RESPONSE", f"the reply is not JSON: {_snippet(self._redact(str(exc)))}")
        if error is not None:
            raise error
        return self._write_audio(reply, out_path)

    def _write_audio(self, reply: Any, out_path: Path) -> Path:
        if not isinstance(reply, dict):
            raise ProviderError(PROVIDER, "INVALID_RESPONSE", f"the reply is not a JSON object: {_snippet(str(reply))!r}")
        encoded = reply.get("audioContent")
        if not encoded or not isinstance(encoded, str):
            raise ProviderError(PROVIDER, "INVALID_RESPONSE", f"audioContent is missing (reply keys: {sorted(reply)})")
        try:
            audio = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ProviderError(
                PROVIDER, "INVALID_RESPONSE", f"audioContent is not valid base64: {_snippet(encoded, 60)!r}"
            ) from None
        if not audio:
            raise ProviderError(PROVIDER, "INVALID_RESPONSE", "audioContent decodes to no bytes")
        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=out_path.name + ".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(audio)
            os.replace(tmp, out_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return out_path

    def _status_error(self, exc: HttpError) -> ProviderError:
        status = int(exc.resp.status)
        raw = exc.content.decode("utf-8", "replace") if isinstance(exc.content, bytes) else str(exc.content or "")
        error = GoogleError.parse(raw)
        kind = error.kind(status)
        lowered = error.text.lower()
        if status == 429 and ("billing" in lowered or ("quota" in lowered and "per minute" not in lowered)):
            kind = "QUOTA_EXCEEDED"
        return error.to_provider_error(PROVIDER, status, kind, self._redact, parse_retry_after(exc.resp.get("retry-after")))


from ytmaker.providers import register  # noqa: E402

register("tts", "google", GoogleSpeechSynthesizer.from_settings)
