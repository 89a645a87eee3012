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
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

SYNTHESIZE_PATH = "/v1/text:synthesize"


from tests.fakes.google_base import GoogleFake, GoogleHandler, google_error


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


class FakeTTS(GoogleFake):
    name = "fake-tts"

    def __init__(self, api_key: str = "fake-tts-key-9876543210"):
        super().__init__(api_key)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"



class _Handler(GoogleHandler):
    fake: FakeTTS

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
        reply = fake.take_reply(request.method, request.path)
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


FakeTTS.handler = _Handler
