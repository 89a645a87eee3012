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
from typing import Any

API_PREFIX = "/v1beta"


from tests.fakes.google_base import GoogleFake, GoogleHandler, google_error
from tests.fakes.http_base import Reply


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


class FakeGemini(GoogleFake):
    name = "fake-gemini"

    def __init__(self, api_key: str = "fake-gemini-key-0123456789", model: str = "gemini-2.5-flash"):
        super().__init__(api_key)
        self.model = model
        self.default_language = "en"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def endpoint_path(self) -> str:
        return f"{API_PREFIX}/models/{self.model}:generateContent"

    # ------------------------------------------------------------------ scripting (``enqueue`` in FakeServer)

    def enqueue_text(self, text: str, **kwargs: Any) -> None:
        """Answer the next call with a candidate whose text is ``text`` (prose, broken JSON...)."""
        self.enqueue(200, generate_content_reply(text), **kwargs)

    def enqueue_script(self, script: dict[str, Any], **kwargs: Any) -> None:
        self.enqueue_text(json.dumps(script, ensure_ascii=False), **kwargs)

    def default_reply(self) -> Reply:
        return Reply(200, generate_content_reply(json.dumps(default_script(self.default_language), ensure_ascii=False)))



class _Handler(GoogleHandler):
    fake: FakeGemini

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
        reply = fake.take_reply(request.method, request.path) or fake.default_reply()
        if reply.delay and fake._stopping.wait(reply.delay):
            return
        self._send(reply.status, reply.body, reply.headers)


FakeGemini.handler = _Handler
