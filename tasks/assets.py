"""Stage 2: narration, pictures and avatar clips (run in parallel by the flow)."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from data import AssetType, record_asset
from tasks.caching import step_cache
from tasks.limits import provider_limits
from tasks.retry import PROVIDER_RETRIES
from tasks.progress import stage_hooks
from ytmaker.media import narration
from ytmaker.core.hashing import file_sha256
from ytmaker.core.media_types import AvatarClip, ImageAsset, Narration, PartAudio
from ytmaker.core.paths import ProjectPaths
from ytmaker.providers import get_provider
from ytmaker.providers.base import AvatarRequest, ImageRequest
from ytmaker.core.settings import get_settings

ASSETS = "asset_generation"


def _paths(project_id: int) -> ProjectPaths:
    return ProjectPaths.for_project(get_settings().projects_dir, project_id)


@task(
    name="narrate-part",
    **PROVIDER_RETRIES,
    cache_policy=step_cache(code=("ytmaker.media.narration",), provider="tts"),
    persist_result=True,
    **stage_hooks(ASSETS),
)
def narrate_part(project_id: int, part: str, text: str, language: str, min_seconds: float, provider: str) -> PartAudio:
    """Speak one part of the script (intro, a segment, outro)."""
    synthesizer = get_provider("tts", get_settings(), provider)
    return narration.narrate_part(
        synthesizer, part=part, text=text, language=language,
        out_wav=_paths(project_id).part_audio(part), min_seconds=min_seconds,
    )


@task(
    name="mix-narration",
    cache_policy=step_cache(code=("ytmaker.media.narration",)),
    persist_result=True,
    **stage_hooks(ASSETS),
)
def mix_narration(project_id: int, parts: list[PartAudio]) -> Narration:
    """Join the spoken parts into ``audio/full_audio.mp3``."""
    mixed = narration.mix_narration(parts, _paths(project_id).full_audio)
    record_asset(project_id, AssetType.AUDIO, path=mixed.path, sha256=mixed.sha256)
    return mixed


@task(
    name="draw-image",
    **PROVIDER_RETRIES,
    cache_policy=step_cache(provider="image"),
    persist_result=True,
    **stage_hooks(ASSETS),
)
def draw_image(project_id: int, request: ImageRequest, provider: str) -> ImageAsset:
    """One 1920x1080 picture for one segment. A failure is recorded on the segment's asset."""
    out = _paths(project_id).image(request.segment_index)
    try:
        with provider_limits("image", provider):
            get_provider("image", get_settings(), provider).generate(request, out)
    except Exception as exc:
        record_asset(project_id, AssetType.IMAGE, segment_index=request.segment_index, error=str(exc)[:2000])
        raise
    digest = file_sha256(out)
    record_asset(project_id, AssetType.IMAGE, segment_index=request.segment_index, path=str(out), sha256=digest)
    return ImageAsset(path=str(out), sha256=digest, segment_index=request.segment_index)


@task(
    name="make-avatar",
    **PROVIDER_RETRIES,
    cache_policy=step_cache(provider="avatar"),
    persist_result=True,
    **stage_hooks(ASSETS),
)
def make_avatar(project_id: int, which: str, text: str, language: str, audio: PartAudio, provider: str) -> AvatarClip:
    """The talking presenter for the intro or the outro, speaking that part's narration."""
    asset_type = AssetType.AVATAR_INTRO if which == "intro" else AssetType.AVATAR_OUTRO
    out = _paths(project_id).avatar(which)
    request = AvatarRequest(project_id=project_id, which=which, text=text, language=language, audio_path=audio.path)
    try:
        get_provider("avatar", get_settings(), provider).generate(request, out)
    except Exception as exc:
        record_asset(project_id, asset_type, error=str(exc)[:2000])
        raise
    digest = file_sha256(Path(out))
    record_asset(project_id, asset_type, path=str(out), sha256=digest)
    return AvatarClip(path=str(out), sha256=digest, which=which)
