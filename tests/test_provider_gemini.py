"""The Gemini script writer against a fake Gemini REST server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import json
import socket

import pytest

from tests.fakes.gemini_server import FakeGemini, default_script, google_error
from ytmaker.providers import get_provider
from ytmaker.providers.errors import ProviderError
from ytmaker.providers.gemini import GeminiScriptWriter
from ytmaker.core.script import Script, ScriptLimits, ScriptRequest, validate_script
from ytmaker.core.settings import Settings

LIMITS = ScriptLimits(min_total=20)


@pytest.fixture
def gemini():
    with FakeGemini() as fake:
        yield fake


def _writer(fake: FakeGemini, *, api_key: str | None = None, timeout: float = 5.0) -> GeminiScriptWriter:
    return GeminiScriptWriter(
        api_key=fake.api_key if api_key is None else api_key, model=fake.model, base_url=fake.base_url, timeout=timeout
    )


def _request(language: str = "en") -> ScriptRequest:
    if language.startswith("zh"):
        return ScriptRequest(project_id=3, title="台北一零一", content="台北一零一位於信義區。", language=language, limits=LIMITS)
    return ScriptRequest(project_id=3, title="Honeybees", content="Honeybees live in colonies.", language=language, limits=LIMITS)


def _fail(fake: FakeGemini, **kwargs) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        _writer(fake, **kwargs).write(_request())
    return info.value


# ---------------------------------------------------------------------- success


@pytest.mark.parametrize("language", ["en", "zh-TW"])
def test_writes_a_valid_script_with_the_key_in_the_header(gemini, language):
    gemini.default_language = language
    request = _request(language)
    script = _writer(gemini).write(request)

    assert isinstance(script, Script)
    validate_script(script, LIMITS, project_id=request.project_id)
    assert [s.index for s in script.segments] == [1, 2, 3]
    assert all(s.image_description for s in script.segments)
    assert script.metadata.title and script.metadata.tags

    assert len(gemini.requests) == 1
    sent = gemini.requests[0]
    assert sent.method == "POST"
    assert sent.path == f"/v1beta/models/{gemini.model}:generateContent"
    assert sent.headers["x-goog-api-key"] == gemini.api_key
    assert gemini.api_key not in sent.raw_path and "key" not in sent.query
    assert sent.headers["content-type"].startswith("application/json")

    config = sent.json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config["responseSchema"]
    assert schema["type"] == "OBJECT"
    assert set(schema["required"]) == {"intro", "segments", "outro", "metadata", "total_duration"}
    segment = schema["properties"]["segments"]["items"]
    assert set(segment["required"]) == {"index", "text", "duration", "image_description"}
    assert segment["properties"]["duration"]["type"] == "NUMBER"
    assert set(schema["properties"]["metadata"]["required"]) == {"title", "description", "tags"}

    prompt = sent.json["contents"][0]["parts"][0]["text"]
    assert request.title in prompt and request.content in prompt
    assert "5" in prompt and "20" in prompt and "600" in prompt  # segment and total limits
    if language.startswith("zh"):
        assert "繁體中文" in prompt and "秒" in prompt
    else:
        assert "seconds" in prompt and "image_description" in prompt


def test_total_duration_is_recomputed_from_the_parts(gemini):
    script = default_script()
    script["total_duration"] = 999
    gemini.enqueue_script(script)
    result = _writer(gemini).write(_request())
    assert result.total_duration == pytest.approx(5.0 + 3 * 9.5 + 5.5)
    validate_script(result, LIMITS)


def test_an_over_long_title_is_shortened_not_rejected(gemini):
    script = default_script()
    script["metadata"]["title"] = "T" * 150
    gemini.enqueue_script(script)
    result = _writer(gemini).write(_request())
    assert len(result.metadata.title) == 100


def test_from_settings_and_registration(gemini, env):
    env(GEMINI_API_KEY=gemini.api_key, GEMINI_BASE_URL=gemini.base_url, GEMINI_MODEL=gemini.model,
        YTMAKER_HTTP_TIMEOUT_SECONDS="5")
    settings = Settings()
    writer = get_provider("script", settings, "gemini")
    script = writer.write(_request())
    validate_script(script, LIMITS)
    assert gemini.requests[-1].headers["x-goog-api-key"] == gemini.api_key
    assert gemini.api_key not in repr(GeminiScriptWriter.from_settings(settings))


def test_from_settings_without_a_key(monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    with pytest.raises(ProviderError) as info:
        GeminiScriptWriter.from_settings(Settings(_env_file=None))
    assert info.value.code == "GEMINI_AUTH" and not info.value.retryable
    assert "GEMINI_API_KEY is not set" in str(info.value)


# ---------------------------------------------------------------------- HTTP errors


@pytest.mark.parametrize(
    "status,code", [(429, "GEMINI_RATE_LIMITED"), (500, "GEMINI_SERVER_ERROR"), (502, "GEMINI_SERVER_ERROR"),
                    (503, "GEMINI_SERVER_ERROR"), (504, "GEMINI_SERVER_ERROR")]
)
def test_retryable_statuses(gemini, status, code):
    gemini.enqueue(status, headers={"Retry-After": "7"})
    gemini.enqueue(status)
    first = _fail(gemini)
    assert (first.code, first.retryable, first.status, first.retry_after) == (code, True, status, 7.0)
    assert str(status) in str(first)
    second = _fail(gemini)  # no Retry-After header: the standard delays apply
    assert (second.code, second.retryable, second.retry_after) == (code, True, None)
    assert len(gemini.requests) == 2  # the writer itself never retries


def test_429_quota_or_billing_is_not_retryable(gemini):
    gemini.enqueue(429, google_error(429, "You exceeded your current quota, please check your plan and billing details."))
    err = _fail(gemini)
    assert (err.code, err.retryable) == ("GEMINI_QUOTA_EXCEEDED", False)
    assert "quota" in str(err)


def test_429_resource_exhausted_without_quota_wording_is_rate_limited(gemini):
    gemini.enqueue(429, google_error(429, "Resource has been exhausted (e.g. check rate limits)."))
    err = _fail(gemini)
    assert (err.code, err.retryable) == ("GEMINI_RATE_LIMITED", True)


def test_429_per_minute_quota_with_retry_info_is_rate_limited(gemini):
    details = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
         "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                         "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "27s"},
    ]
    gemini.enqueue(429, google_error(429, "You exceeded your current quota. Please retry in 27.1s.", details))
    err = _fail(gemini)
    assert (err.code, err.retryable, err.retry_after) == ("GEMINI_RATE_LIMITED", True, 27.0)


def test_400_bad_request(gemini):
    gemini.enqueue(400, google_error(400, "Invalid JSON payload received."))
    err = _fail(gemini)
    assert (err.code, err.retryable, err.status) == ("GEMINI_BAD_REQUEST", False, 400)
    assert "Invalid JSON payload" in str(err)


def test_401_wrong_key(gemini):
    err = _fail(gemini, api_key="not-the-right-key")
    assert (err.code, err.retryable, err.status) == ("GEMINI_AUTH", False, 401)
    assert "GEMINI_API_KEY" in str(err)
    assert "not-the-right-key" not in str(err)


def test_400_api_key_invalid_is_auth(gemini):
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                "domain": "googleapis.com"}]
    gemini.enqueue(400, google_error(400, "API key not valid. Please pass a valid API key.", details))
    err = _fail(gemini)
    assert (err.code, err.retryable) == ("GEMINI_AUTH", False)
    assert "GEMINI_API_KEY" in str(err)


def test_403_forbidden(gemini):
    gemini.enqueue(403, google_error(403, "Generative Language API has not been used in project 1 before or it is disabled."))
    err = _fail(gemini)
    assert (err.code, err.retryable, err.status) == ("GEMINI_FORBIDDEN", False, 403)
    assert "GEMINI_API_KEY" in str(err)


def test_404_unknown_model(gemini):
    writer = GeminiScriptWriter(api_key=gemini.api_key, model="gemini-0-nope", base_url=gemini.base_url, timeout=5)
    with pytest.raises(ProviderError) as info:
        writer.write(_request())
    assert (info.value.code, info.value.retryable, info.value.status) == ("GEMINI_BAD_REQUEST", False, 404)
    assert "gemini-0-nope" in str(info.value)


# ---------------------------------------------------------------------- malformed replies


def test_prose_instead_of_json(gemini):
    gemini.enqueue_text("Sure! Here is a lovely script about honeybees: first the queen...")
    err = _fail(gemini)
    assert (err.code, err.retryable) == ("GEMINI_INVALID_RESPONSE", False)
    assert "not JSON" in str(err) and "Sure! Here is a lovely script" in str(err)


def test_fenced_json(gemini):
    gemini.enqueue_text("```json\n" + json.dumps(default_script()) + "\n```")
    err = _fail(gemini)
    assert err.code == "GEMINI_INVALID_RESPONSE"
    assert "code fence" in str(err) and "```json" in str(err)


def test_segment_missing_duration(gemini):
    script = default_script()
    del script["segments"][1]["duration"]
    gemini.enqueue_script(script)
    err = _fail(gemini)
    assert err.code == "GEMINI_INVALID_RESPONSE"
    assert "segments[1].duration" in str(err) and "required" in str(err).lower()


def test_missing_metadata(gemini):
    script = default_script()
    del script["metadata"]
    gemini.enqueue_script(script)
    err = _fail(gemini)
    assert err.code == "GEMINI_INVALID_RESPONSE" and "metadata" in str(err)


@pytest.mark.parametrize("body", [{"candidates": []}, {"usageMetadata": {"promptTokenCount": 3}}])
def test_no_candidates(gemini, body):
    gemini.enqueue(200, body)
    err = _fail(gemini)
    assert err.code == "GEMINI_INVALID_RESPONSE" and "no candidates" in str(err)


def test_candidate_without_text(gemini):
    gemini.enqueue(200, {"candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "STOP"}]})
    err = _fail(gemini)
    assert err.code == "GEMINI_INVALID_RESPONSE" and "candidates[0].content.parts[0].text" in str(err)


def test_truncated_json_names_max_tokens(gemini):
    text = json.dumps(default_script())[:80]
    gemini.enqueue(200, {"candidates": [{"content": {"parts": [{"text": text}]}, "finishReason": "MAX_TOKENS"}]})
    err = _fail(gemini)
    assert err.code == "GEMINI_INVALID_RESPONSE" and "token limit" in str(err)


def test_blocked_prompt_is_content_policy(gemini):
    gemini.enqueue(200, {"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []}})
    err = _fail(gemini)
    assert (err.code, err.retryable) == ("GEMINI_CONTENT_POLICY", False)
    assert "SAFETY" in str(err)


def test_safety_finish_without_content_is_content_policy(gemini):
    gemini.enqueue(200, {"candidates": [{"finishReason": "PROHIBITED_CONTENT", "index": 0}]})
    err = _fail(gemini)
    assert err.code == "GEMINI_CONTENT_POLICY" and "PROHIBITED_CONTENT" in str(err)


def test_non_json_http_body(gemini):
    gemini.enqueue(200, "<html>captive portal</html>")
    err = _fail(gemini)
    assert err.code == "GEMINI_INVALID_RESPONSE" and "captive portal" in str(err)


# ---------------------------------------------------------------------- transport


def test_timeout(gemini):
    gemini.enqueue(200, delay=3.0)
    err = _fail(gemini, timeout=0.5)
    # Had the client waited for the late reply, it would have read it (not a timeout).
    assert (err.code, err.retryable) == ("GEMINI_TIMEOUT", True)
    assert len(gemini.requests) == 1, "one attempt: retrying is the task's job"


def test_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    writer = GeminiScriptWriter(api_key="k" * 20, base_url=f"http://127.0.0.1:{port}/v1beta", timeout=2)
    with pytest.raises(ProviderError) as info:
        writer.write(_request())
    assert (info.value.code, info.value.retryable) == ("GEMINI_CONNECTION", True)
    assert "k" * 20 not in str(info.value)


def test_the_key_is_in_no_error_message(gemini):
    gemini.enqueue(500, google_error(500, f"internal error while checking key {gemini.api_key}"))
    gemini.enqueue(400)
    gemini.enqueue_text("prose")
    for _ in range(3):
        err = _fail(gemini)
        assert gemini.api_key not in str(err) and gemini.api_key not in repr(err.details)
