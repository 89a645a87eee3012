"""Gemini script writer: one ``generateContent`` call that answers with a Script as JSON.

REST API: ``POST {base_url}/models/{model}:generateContent`` with the key in the
``x-goog-api-key`` header (never in the URL, so it never shows in logs or errors). The reply
is constrained to JSON by ``generationConfig.responseMimeType`` and ``responseSchema`` (the
OpenAPI subset Gemini understands). Every failure is a :class:`ProviderError` with a
``GEMINI_*`` code; the writer does not retry (Prefect task retries do) and does not check
durations (the script task runs ``validate_script``).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import ValidationError

from ytmaker.providers.errors import ProviderError, parse_retry_after
from ytmaker.providers.errors import snippet as _snippet
from ytmaker.providers.google_errors import GoogleError
from ytmaker.providers.http import PooledHttpClient
from ytmaker.providers.keys import require_key, settings_key
from ytmaker.core.script import Script, ScriptRequest
from ytmaker.core.settings import Settings

PROVIDER = "GEMINI"

# Finish reasons that mean the model refused for policy reasons (no usable text follows).
_POLICY_FINISH = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}


def _section_schema(description: str) -> dict[str, Any]:
    return {
        "type": "OBJECT",
        "description": description,
        "properties": {
            "text": {"type": "STRING", "description": "Narration, exactly as it will be spoken."},
            "duration": {"type": "NUMBER", "description": "Estimated seconds of narration."},
        },
        "required": ["text", "duration"],
        "propertyOrdering": ["text", "duration"],
    }


# The Script shape (ytmaker.core.script.Script) in Gemini's OpenAPI-subset schema.
SCRIPT_RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "OBJECT",
    "properties": {
        "intro": _section_schema("Short spoken introduction of the topic."),
        "segments": {
            "type": "ARRAY",
            "minItems": 1,
            "items": {
                "type": "OBJECT",
                "properties": {
                    "index": {"type": "INTEGER", "description": "1, 2, 3, ... in order."},
                    "text": {"type": "STRING", "description": "Narration of this segment."},
                    "duration": {"type": "NUMBER", "description": "Estimated seconds of narration."},
                    "image_description": {
                        "type": "STRING",
                        "description": "What the picture shown during this segment depicts.",
                    },
                },
                "required": ["index", "text", "duration", "image_description"],
                "propertyOrdering": ["index", "text", "duration", "image_description"],
            },
        },
        "outro": _section_schema("Short spoken closing: thanks and a call to subscribe."),
        "metadata": {
            "type": "OBJECT",
            "properties": {
                "title": {"type": "STRING", "description": "Video title, at most 100 characters."},
                "description": {"type": "STRING", "description": "Video description, at most 5000 characters."},
                "tags": {"type": "ARRAY", "items": {"type": "STRING"}},
            },
            "required": ["title", "description", "tags"],
            "propertyOrdering": ["title", "description", "tags"],
        },
        "total_duration": {"type": "NUMBER", "description": "Sum of all durations, in seconds."},
    },
    "required": ["intro", "segments", "outro", "metadata", "total_duration"],
    "propertyOrdering": ["intro", "segments", "outro", "metadata", "total_duration"],
}


def _is_zh(language: str) -> bool:
    return language.lower().startswith(("zh", "cmn"))


def build_prompt(request: ScriptRequest) -> str:
    """The instruction, written in the project's language."""
    lim = request.limits
    if _is_zh(request.language):
        return (
            "你是 YouTube 影片的旁白腳本作者。請根據下列標題與內容，用繁體中文寫一支旁白影片的腳本。\n"
            "要求：\n"
            "1. intro：簡短開場，介紹主題。\n"
            f"2. segments：把內容依序分成多個段落，每段旁白約 {lim.min_segment:g}–{lim.max_segment:g} 秒；"
            "index 從 1 開始連續編號；image_description 描述該段畫面要呈現的圖像（具體、可畫出來）。"
            "內容中的每個重點都要講到，不要杜撰事實。\n"
            "3. outro：簡短結尾，感謝收看並邀請訂閱。\n"
            "4. metadata：title（最多 100 字）、description（影片說明）、tags（5–10 個關鍵字）。\n"
            "5. 每個 duration 是該段旁白以正常語速（每秒約 3 個字）朗讀的估計秒數；"
            f"total_duration 是 intro、所有 segments 與 outro 的 duration 總和，必須介於 "
            f"{lim.min_total:g} 與 {lim.max_total:g} 秒之間。\n"
            "只輸出符合指定結構的 JSON。\n\n"
            f"標題：{request.title}\n\n內容：\n{request.content}"
        )
    return (
        "You write narration scripts for YouTube videos. Write the script of a narrated video "
        "in English from the title and content below.\n"
        "Requirements:\n"
        "1. intro: a short spoken opening that introduces the topic.\n"
        f"2. segments: the content in order, split into segments of about {lim.min_segment:g}-"
        f"{lim.max_segment:g} seconds of narration each; index counts 1, 2, 3, ...; "
        "image_description says concretely what the picture shown during the segment depicts. "
        "Cover every point of the content and invent no facts.\n"
        "3. outro: a short closing that thanks the viewer and invites them to subscribe.\n"
        "4. metadata: title (at most 100 characters), description, tags (5-10 keywords).\n"
        "5. Every duration is the estimated seconds to read that narration aloud at a normal pace "
        "(about 2.5 words per second); total_duration is the sum of the intro, segment and outro "
        f"durations and must be between {lim.min_total:g} and {lim.max_total:g} seconds.\n"
        "Answer only with JSON in the given structure.\n\n"
        f"Title: {request.title}\n\nContent:\n{request.content}"
    )


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


class GeminiScriptWriter(PooledHttpClient):
    OUTPUT_SETTINGS = ("gemini_model",)
    """Writes a :class:`Script` with the Gemini ``generateContent`` REST API."""

    follow_redirects = False  # the key is in x-goog-api-key

    def __init__(
        self,
        api_key: str,
        model: str = "gemini-2.5-flash",
        base_url: str = "https://generativelanguage.googleapis.com/v1beta",
        timeout: float = 60.0,
    ):
        self._api_key = require_key(PROVIDER, api_key)
        self.model = model.removeprefix("models/")
        self.base_url = base_url.rstrip("/")
        self._init_http(timeout)

    @classmethod
    def from_settings(cls, settings: Settings) -> "GeminiScriptWriter":
        return cls(
            api_key=settings_key(settings, PROVIDER),
            model=settings.gemini_model,
            base_url=settings.gemini_base_url,
            timeout=settings.http_timeout_seconds,
        )

    def __repr__(self) -> str:  # never show the key
        return f"GeminiScriptWriter(model={self.model!r}, base_url={self.base_url!r})"

    @property
    def url(self) -> str:
        return f"{self.base_url}/models/{self.model}:generateContent"

    def request_body(self, request: ScriptRequest) -> dict[str, Any]:
        return {
            "contents": [{"role": "user", "parts": [{"text": build_prompt(request)}]}],
            "generationConfig": {
                "responseMimeType": "application/json",
                "responseSchema": SCRIPT_RESPONSE_SCHEMA,
                "temperature": 0.7,
            },
        }

    # ------------------------------------------------------------------ calling

    def write(self, request: ScriptRequest) -> Script:
        body = self.request_body(request)
        headers = {"x-goog-api-key": self._api_key, "Content-Type": "application/json"}
        response = self._request_or_raise(PROVIDER, "POST", self.url, what=f"calling {self.url}", json=body, headers=headers)
        if response.status_code >= 300:
            raise self._status_error(response)
        return self._parse(response)

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _status_error(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        error = GoogleError.parse(response.text)
        kind = error.kind(status)
        if status == 429:
            lowered = error.text.lower()
            per_minute = any("PerMinute" in q for q in error.quota_ids)
            per_day = any("PerDay" in q for q in error.quota_ids)
            if per_day or "billing" in lowered or ("quota" in lowered and not per_minute and error.retry_delay is None):
                kind = "QUOTA_EXCEEDED"
            else:
                kind = "RATE_LIMITED"
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is None:
            retry_after = error.retry_delay
        return error.to_provider_error(PROVIDER, status, kind, self._redact, retry_after)

    # ------------------------------------------------------------------ parsing

    def _invalid(self, detail: str) -> ProviderError:
        return ProviderError(PROVIDER, "INVALID_RESPONSE", detail)

    def _parse(self, response: httpx.Response) -> Script:
        try:
            data = response.json()
        except ValueError:
            raise self._invalid(f"the reply is not JSON: {_snippet(response.text)!r}") from None
        if not isinstance(data, dict):
            raise self._invalid(f"the reply is not a JSON object: {_snippet(response.text)!r}")
        feedback = data.get("promptFeedback") or {}
        block = feedback.get("blockReason") if isinstance(feedback, dict) else None
        if block:
            raise ProviderError(PROVIDER, "CONTENT_POLICY", f"the prompt was blocked (promptFeedback.blockReason={block})")
        candidates = data.get("candidates")
        if not candidates or not isinstance(candidates, list) or not isinstance(candidates[0], dict):
            raise self._invalid("the reply has no candidates")
        candidate = candidates[0]
        finish = candidate.get("finishReason")
        parts = (candidate.get("content") or {}).get("parts") if isinstance(candidate.get("content"), dict) else None
        texts = [p["text"] for p in parts or [] if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")]
        if finish in _POLICY_FINISH and not texts:
            raise ProviderError(PROVIDER, "CONTENT_POLICY", f"the answer was withheld (candidates[0].finishReason={finish})")
        if not texts:
            raise self._invalid(f"candidates[0].content.parts[0].text is missing (finishReason={finish})")
        text = "".join(texts)
        try:
            payload = json.loads(text)
        except ValueError as exc:
            if finish == "MAX_TOKENS":
                why = "truncated at the token limit"
            elif text.lstrip().startswith("```"):
                why = "JSON wrapped in a ``` code fence, not bare JSON"
            else:
                why = f"not JSON ({exc.msg})"
            raise self._invalid(f"candidates[0].content.parts[0].text is {why}: {_snippet(text)!r}") from None
        if not isinstance(payload, dict):
            raise self._invalid(f"the script is not a JSON object: {_snippet(text)!r}")
        payload = self._tidy(payload)
        try:
            script = Script.model_validate(payload)
        except ValidationError as exc:
            problems = [f"{_loc(e['loc'])}: {e['msg']}" for e in exc.errors()[:5]]
            raise self._invalid("the script does not match the schema: " + "; ".join(problems)) from None
        total = script.intro.duration + sum(s.duration for s in script.segments) + script.outro.duration
        if abs(total - script.total_duration) > 0.01:
            script = script.model_copy(update={"total_duration": round(total, 2)})
        return script

    @staticmethod
    def _tidy(payload: dict[str, Any]) -> dict[str, Any]:
        """Harmless fixes: over-long title/description are shortened instead of rejected."""
        meta = payload.get("metadata")
        if isinstance(meta, dict):
            meta = dict(meta)
            if isinstance(meta.get("title"), str):
                title = meta["title"].strip()
                meta["title"] = title if len(title) <= 100 else title[:99].rstrip() + "…"
            if isinstance(meta.get("description"), str) and len(meta["description"]) > 5000:
                meta["description"] = meta["description"][:4999].rstrip() + "…"
            payload = {**payload, "metadata": meta}
        return payload


from ytmaker.providers import register  # noqa: E402

register("script", "gemini", GeminiScriptWriter.from_settings)
