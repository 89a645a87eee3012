"""The script model, the local writer and the validator (no Prefect)."""

from __future__ import annotations

import pytest

from ytmaker.core.errors import ScriptValidationError
from ytmaker.providers.local_script import LocalScriptWriter
from ytmaker.core.script import Script, ScriptLimits, ScriptRequest, ScriptSection, Segment, VideoMetadata, validate_script
from ytmaker.media.text import split_sentences, wrap_text, load_font


def _request(content: str, language: str, **limits: float) -> ScriptRequest:
    return ScriptRequest(project_id=7, title="標題 Title", content=content, language=language,
                         limits=ScriptLimits(**{"min_total": 20, **limits}))


@pytest.mark.parametrize("language,fixture", [("zh-TW", "zh_content"), ("en", "en_content")])
def test_local_writer_makes_a_valid_script(language, fixture, request):
    content = request.getfixturevalue(fixture)
    req = _request(content, language)
    script = LocalScriptWriter().write(req)
    validate_script(script, req.limits)
    assert [s.index for s in script.segments] == list(range(1, len(script.segments) + 1))
    assert len(script.segments) >= 2
    assert all(5 <= s.duration <= 20 and s.image_description and s.text for s in script.segments)
    assert script.metadata.title == "標題 Title" and script.metadata.tags
    total = script.intro.duration + sum(s.duration for s in script.segments) + script.outro.duration
    assert script.total_duration == pytest.approx(total, abs=0.05)
    # Every sentence of the content is narrated exactly once, in order.
    spoken = "".join(s.text for s in script.segments).replace(" ", "")
    assert spoken == "".join(split_sentences(content)).replace(" ", "")


def _script(durations: list[float]) -> Script:
    segments = [Segment(index=i, text="x", duration=d, image_description="d") for i, d in enumerate(durations, 1)]
    total = 4 + sum(durations) + 4
    return Script(intro=ScriptSection(text="hi", duration=4), segments=segments,
                  outro=ScriptSection(text="bye", duration=4),
                  metadata=VideoMetadata(title="t", description="", tags=[]), total_duration=total)


def test_validator_names_segment_index_duration_and_limit():
    script = _script([10] * 15 + [3.5] + [10] * 2)
    with pytest.raises(ScriptValidationError) as err:
        validate_script(script, ScriptLimits(), project_id=42)
    message = str(err.value)
    assert "Project 42" in message and "segment 16" in message and "3.5" in message and "5-20 s" in message
    violation = err.value.details["violations"][0]
    assert violation == {"field": "duration", "segment_index": 16, "value": 3.5, "limit": "5-20 s"}
    assert err.value.code == "SCRIPT_INVALID"


def test_validator_checks_total_bounds():
    with pytest.raises(ScriptValidationError) as err:
        validate_script(_script([10] * 3), ScriptLimits())
    assert "total_duration 38" in str(err.value) and "180-600 s" in str(err.value)
    assert "YTMAKER_MIN_TOTAL_SECONDS" in str(err.value)
    with pytest.raises(ScriptValidationError, match="180-600"):
        validate_script(_script([20] * 31), ScriptLimits())
    assert validate_script(_script([10] * 18), ScriptLimits())


def test_validator_rejects_gaps_in_numbering():
    script = _script([10] * 18)
    script.segments[4].index = 9
    with pytest.raises(ScriptValidationError, match="segments.index"):
        validate_script(script, ScriptLimits())


def test_a_sentence_too_long_for_a_segment_is_reported():
    long_sentence = "這是一個非常非常長而且沒有任何標點符號可以斷開的句子它會讓估計的朗讀時間超過上限" * 2
    req = _request(long_sentence + "。短句。", "zh-TW", max_segment=8, min_total=1)
    with pytest.raises(ScriptValidationError) as err:
        validate_script(LocalScriptWriter().write(req), req.limits)
    assert err.value.details["violations"][0]["segment_index"] == 1


def test_wrapping_fits_width_and_keeps_punctuation_attached():
    font = load_font(54)
    text = "台北一零一是台灣最高的建築物，曾經是世界第一高樓，它位於信義區，每年跨年都有煙火表演。"
    lines = wrap_text(text, font, 600)
    assert "".join(lines) == text
    assert all(font.getlength(line) <= 600 + font.size for line in lines)  # punctuation may overhang
    assert not any(line[0] in "，。" for line in lines)
    english = wrap_text("Honeybees live in colonies built around a single queen.", font, 500)
    assert all(not w.startswith(" ") for w in english) and " ".join(english).split() == (
        "Honeybees live in colonies built around a single queen.".split()
    )
