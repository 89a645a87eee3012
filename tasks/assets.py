"""Stage 2: narration, pictures and avatar clips (run in parallel by the flow)."""

from __future__ import annotations

from data import AssetType, record_asset
from tasks.caching import step_cache
from tasks.providers import provider_named
from tasks.step import pipeline_step
from ytmaker.core.hashing import file_sha256
from ytmaker.core.media_types import AvatarClip, ImageAsset, Narration, PartAudio
from ytmaker.core.paths import ProjectPaths
from ytmaker.media import narration
from ytmaker.providers.base import AvatarRequest, ImageRequest

ASSETS = "asset_generation"


@pipeline_step("narrate-part", stage=ASSETS, calls_provider=True, item=lambda a: a["part"],
               cache=step_cache(code=("ytmaker.media.narration",), provider="tts"))
def narrate_part(project: ProjectPaths, part: str, text: str, language: str, min_seconds: float, provider: str) -> PartAudio:
    """Speak one part of the script (intro, a segment, outro)."""
    synthesizer = provider_named("tts", provider)
    return narration.narrate_part(
        synthesizer, part=part, text=text, language=language, out_wav=project.part_audio(part), min_seconds=min_seconds,
    )


@pipeline_step("mix-narration", stage=ASSETS, cache=step_cache(code=("ytmaker.media.narration",)))
def mix_narration(project: ProjectPaths, parts: list[PartAudio]) -> Narration:
    """Join the spoken parts into ``audio/full_audio.mp3``."""
    mixed = narration.mix_narration(parts, project.full_audio)
    record_asset(project.project_id, AssetType.AUDIO, path=mixed.path, sha256=mixed.sha256)
    return mixed


@pipeline_step("draw-image", stage=ASSETS, calls_provider=True, item=lambda a: str(a["request"].segment_index),
               cache=step_cache(provider="image"))
def draw_image(project: ProjectPaths, request: ImageRequest, provider: str) -> ImageAsset:
    """One 1920x1080 picture for one segment. A failure is recorded on the segment's asset."""
    out = project.image(request.segment_index)
    try:
        provider_named("image", provider).generate(request, out)
    except Exception as exc:
        record_asset(project.project_id, AssetType.IMAGE, segment_index=request.segment_index, error=str(exc)[:2000])
        raise
    digest = file_sha256(out)
    record_asset(project.project_id, AssetType.IMAGE, segment_index=request.segment_index, path=str(out), sha256=digest)
    return ImageAsset(path=str(out), sha256=digest, segment_index=request.segment_index)


@pipeline_step("make-avatar", stage=ASSETS, calls_provider=True, item=lambda a: a["which"],
               cache=step_cache(provider="avatar"))
def make_avatar(project: ProjectPaths, which: str, text: str, language: str, audio: PartAudio, provider: str) -> AvatarClip:
    """The talking presenter for the intro or the outro, speaking that part's narration."""
    asset_type = AssetType.AVATAR_INTRO if which == "intro" else AssetType.AVATAR_OUTRO
    out = project.avatar(which)
    request = AvatarRequest(project_id=project.project_id, which=which, text=text, language=language,
                            audio_path=audio.path)
    try:
        provider_named("avatar", provider).generate(request, out)
    except Exception as exc:
        record_asset(project.project_id, asset_type, error=str(exc)[:2000])
        raise
    digest = file_sha256(out)
    record_asset(project.project_id, asset_type, path=str(out), sha256=digest)
    return AvatarClip(path=str(out), sha256=digest, which=which)
