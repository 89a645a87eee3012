"""What a step's cache key is made of, and when a stored result is still true
(``tasks/caching.py``): every input that changes an output changes the key. The A → B → A
edit runs in tests/test_video_flow.py, every kill point in tests/test_fault_resume.py."""

from __future__ import annotations

import pytest

from ytmaker.core.fingerprint import module_closure



def _steps():
    from tasks.assets import draw_image, make_avatar, mix_narration, narrate_part
    from tasks.publish import publish_video
    from tasks.render import render_video
    from tasks.script import write_script
    from tasks.thumbnail import make_thumbnail

    return {
        "script": (write_script, "gemini"), "narration": (narrate_part, "google"), "mix": (mix_narration, None),
        "picture": (draw_image, "local"), "picture-stability": (draw_image, "stability"),
        "avatar": (make_avatar, "did"), "avatar-local": (make_avatar, "local"),
        "render": (render_video, None), "thumbnail": (make_thumbnail, None), "publish": (publish_video, "youtube"),
    }


def _fingerprints() -> dict[str, dict]:
    return {name: task.cache_policy.fingerprint({"provider": provider} if provider else {})
            for name, (task, provider) in _steps().items()}


@pytest.mark.parametrize(("setting", "value", "changed"), [
    ("YTMAKER_VIDEO_CRF", "28", {"render"}),
    ("YTMAKER_X264_PRESET", "medium", {"render"}),
    ("GOOGLE_TTS_VOICE_ZH", "cmn-TW-Wavenet-A", {"narration"}),
    ("GOOGLE_TTS_VOICE_EN", "en-US-Wavenet-D", {"narration"}),
    ("GEMINI_MODEL", "gemini-2.5-pro", {"script"}),
    ("DID_SOURCE_URL", "https://example.com/presenter.jpg", {"avatar"}),
    ("YTMAKER_FONT_FILE", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", {"render", "thumbnail", "picture", "avatar-local"}),
])
def test_a_setting_that_changes_an_output_changes_exactly_the_keys_of_the_steps_it_shapes(env, setting, value, changed):
    before = _fingerprints()
    env(**{setting: value})
    after = _fingerprints()
    assert {name for name in before if before[name] != after[name]} == changed


def test_settings_that_change_nothing_made_change_no_key(env):
    before = _fingerprints()
    env(YTMAKER_HTTP_TIMEOUT_SECONDS="5", YTMAKER_TASK_WORKERS="2", STABILITY_BASE_URL="http://127.0.0.1:9/")
    assert _fingerprints() == before


def test_a_key_follows_the_code_of_the_helpers_a_step_calls():
    # The renderer's key covers the modules that draw and encode for it, not only render.py.
    assert {"ytmaker.media.render", "ytmaker.media.subtitles", "ytmaker.media.text", "ytmaker.media.yuv", "ytmaker.media.ffmpeg"} <= set(
        module_closure(("ytmaker.media.render",)))
    assert {"ytmaker.media.drawing.thumbnail", "ytmaker.media.text"} <= set(module_closure(("ytmaker.media.drawing.thumbnail",)))
    assert "ytmaker.media.drawing.segment_image" in module_closure(("ytmaker.providers.local_image",))
    # ...and a paid provider's key does not follow the local drawing code.
    assert "ytmaker.media.drawing.segment_image" not in module_closure(("ytmaker.providers.stability",))


def test_a_secret_can_never_be_part_of_a_key():
    from pydantic import SecretStr

    from ytmaker.core.fingerprint import setting_values
    from ytmaker.core.settings import get_settings

    with pytest.raises(ValueError, match="secret"):
        setting_values(get_settings().model_copy(update={"gemini_api_key": SecretStr("x")}), ["gemini_api_key"])

