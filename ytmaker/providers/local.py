"""Registers the offline providers: every stage works with no key and no network.

Each lives in its own module, so a cache key that includes a provider's code changes only
when that provider's code does."""

from __future__ import annotations

from ytmaker.providers import register
from ytmaker.providers.espeak import EspeakSynthesizer
from ytmaker.providers.local_avatar import DrawnAvatarGenerator
from ytmaker.providers.local_image import PillowImageGenerator
from ytmaker.providers.local_publish import LocalPublisher
from ytmaker.providers.local_script import LocalScriptWriter

register("script", "local", lambda settings: LocalScriptWriter(), LocalScriptWriter)
register("tts", "local", lambda settings: EspeakSynthesizer(), EspeakSynthesizer)
register("image", "local", lambda settings: PillowImageGenerator(), PillowImageGenerator)
register("avatar", "local", lambda settings: DrawnAvatarGenerator(), DrawnAvatarGenerator)
register("publish", "local", lambda settings: LocalPublisher(settings.published_dir), LocalPublisher)
