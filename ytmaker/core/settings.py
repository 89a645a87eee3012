"""Typed configuration, read from the environment and an optional ``.env`` file."""

from __future__ import annotations

from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]  # ytmaker/core/settings.py -> the checkout
DEFAULT_DATA_DIR = REPO_ROOT / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(DEFAULT_DATA_DIR, alias="DATA_DIR")
    database_url: str | None = Field(None, alias="DATABASE_URL")
    redis_url: str = Field("redis://localhost:6379/0", alias="REDIS_URL")
    timezone: str = Field("Asia/Taipei", alias="YTMAKER_TIMEZONE")

    # One provider per stage. Only "local" exists offline; cloud providers register
    # themselves under their own names (gemini, google, stability, did, youtube).
    script_provider: str = Field("local", alias="YTMAKER_SCRIPT_PROVIDER")
    tts_provider: str = Field("local", alias="YTMAKER_TTS_PROVIDER")
    image_provider: str = Field("local", alias="YTMAKER_IMAGE_PROVIDER")
    avatar_provider: str = Field("local", alias="YTMAKER_AVATAR_PROVIDER")
    publish_provider: str = Field("local", alias="YTMAKER_PUBLISH_PROVIDER")

    # Script validation limits (seconds). The video must be 180-600 s; a short sample or a
    # test may lower the total minimum with YTMAKER_MIN_TOTAL_SECONDS.
    min_segment_seconds: float = Field(5.0, alias="YTMAKER_MIN_SEGMENT_SECONDS")
    max_segment_seconds: float = Field(20.0, alias="YTMAKER_MAX_SEGMENT_SECONDS")
    min_total_seconds: float = Field(180.0, alias="YTMAKER_MIN_TOTAL_SECONDS")
    max_total_seconds: float = Field(600.0, alias="YTMAKER_MAX_TOTAL_SECONDS")

    # Rendering
    video_crf: int = Field(23, alias="YTMAKER_VIDEO_CRF", ge=0, le=51)
    x264_preset: str = Field("veryfast", alias="YTMAKER_X264_PRESET")
    # Threads of a run's steps. Steps wait for their provider kind's turn below, not for a
    # thread, so one kind's queue never holds up another's (pictures behind narration).
    task_workers: int = Field(64, alias="YTMAKER_TASK_WORKERS", ge=1)
    # How many calls of each provider kind one run makes at once (Stability also has a
    # limit across workers: tasks/limits.py).
    tts_concurrency: int = Field(4, alias="YTMAKER_TTS_CONCURRENCY", ge=1)
    image_concurrency: int = Field(4, alias="YTMAKER_IMAGE_CONCURRENCY", ge=1)
    avatar_concurrency: int = Field(2, alias="YTMAKER_AVATAR_CONCURRENCY", ge=1)
    # The font every caption, picture and thumbnail text is drawn with (a .ttf/.otf/.ttc
    # covering the project's language); unset: Noto Sans CJK or WenQuanYi from the system.
    font_file: Path | None = Field(None, alias="YTMAKER_FONT_FILE")
    font_index: int = Field(0, alias="YTMAKER_FONT_INDEX", ge=0)

    # Cloud providers. Keys are SecretStr: they never print, log or serialise in clear.
    # Base URLs default to the real services; override for proxies, regional endpoints, tests.
    gemini_api_key: SecretStr | None = Field(None, alias="GEMINI_API_KEY")
    gemini_model: str = Field("gemini-2.5-flash", alias="GEMINI_MODEL")
    gemini_base_url: str = Field("https://generativelanguage.googleapis.com/v1beta", alias="GEMINI_BASE_URL")
    google_tts_api_key: SecretStr | None = Field(None, alias="GOOGLE_TTS_API_KEY")
    google_tts_base_url: str = Field("https://texttospeech.googleapis.com/", alias="GOOGLE_TTS_BASE_URL")
    google_tts_voice_zh: str = Field("cmn-TW-Standard-A", alias="GOOGLE_TTS_VOICE_ZH")
    google_tts_voice_en: str = Field("en-US-Standard-C", alias="GOOGLE_TTS_VOICE_EN")
    stability_api_key: SecretStr | None = Field(None, alias="STABILITY_API_KEY")
    stability_base_url: str = Field("https://api.stability.ai", alias="STABILITY_BASE_URL")
    did_api_key: SecretStr | None = Field(None, alias="DID_API_KEY")
    did_base_url: str = Field("https://api.d-id.com", alias="DID_BASE_URL")
    did_source_url: str | None = Field(None, alias="DID_SOURCE_URL")
    youtube_token_file: Path | None = Field(None, alias="YOUTUBE_TOKEN_FILE")
    youtube_base_url: str = Field("https://www.googleapis.com/", alias="YOUTUBE_BASE_URL")
    # Resumable upload chunk size: a multiple of 256 KiB. Smaller chunks lose less on a
    # broken connection and cost more requests.
    youtube_upload_chunk_bytes: int = Field(8 * 1024 * 1024, alias="YOUTUBE_UPLOAD_CHUNK_BYTES", gt=0,
                                            multiple_of=256 * 1024)
    credentials_block: str = Field("default", alias="YTMAKER_CREDENTIALS_BLOCK")
    http_timeout_seconds: float = Field(60.0, alias="YTMAKER_HTTP_TIMEOUT_SECONDS", gt=0)

    # Running as a service. A step's cross-worker lock lives lock_ttl_seconds and is renewed
    # by its process while it runs, so a killed process frees it within that time.
    lock_ttl_seconds: float = Field(30.0, alias="YTMAKER_LOCK_TTL_SECONDS", ge=3)
    # Redis keys of locks are prefixed with this, so installations sharing one Redis (tests
    # and a user's, staging and production) never block each other. Default: derived from
    # the database URL and DATA_DIR.
    namespace_setting: str | None = Field(None, alias="YTMAKER_NAMESPACE")
    render_timeout_seconds: float = Field(1800.0, alias="YTMAKER_RENDER_TIMEOUT_SECONDS", gt=0)
    upload_timeout_seconds: float = Field(3000.0, alias="YTMAKER_UPLOAD_TIMEOUT_SECONDS", gt=0)
    # A running video_flow refreshes a Redis key this often; recovery treats a project whose
    # key has expired (3 beats missed) as interrupted.
    heartbeat_seconds: float = Field(10.0, alias="YTMAKER_HEARTBEAT_SECONDS", gt=0)
    # batch_flow runs each project as a subflow in its own process ("subflow") or as a run
    # of the video deployment that any worker may pick up ("deployment").
    batch_mode: Literal["subflow", "deployment"] = Field("subflow", alias="YTMAKER_BATCH_MODE")
    video_deployment: str = Field("video-flow/default", alias="YTMAKER_VIDEO_DEPLOYMENT")

    # Redis progress stream length kept for late subscribers.
    progress_history: int = Field(500, alias="YTMAKER_PROGRESS_HISTORY", ge=10)

    @model_validator(mode="after")
    def _check_bounds(self) -> "Settings":
        if self.min_segment_seconds > self.max_segment_seconds:
            raise ValueError("YTMAKER_MIN_SEGMENT_SECONDS must not exceed YTMAKER_MAX_SEGMENT_SECONDS")
        if self.min_total_seconds > self.max_total_seconds:
            raise ValueError("YTMAKER_MIN_TOTAL_SECONDS must not exceed YTMAKER_MAX_TOTAL_SECONDS")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'ytmaker.db'}"

    @cached_property  # asked for on every lock operation
    def namespace(self) -> str:
        if self.namespace_setting:
            return self.namespace_setting
        import hashlib

        identity = f"{self.resolved_database_url}|{Path(self.data_dir).resolve()}"
        return hashlib.sha256(identity.encode()).hexdigest()[:12]

    @property
    def projects_dir(self) -> Path:
        return self.data_dir / "projects"

    @property
    def published_dir(self) -> Path:
        return self.data_dir / "published"

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "results"

    def public_summary(self) -> dict[str, str]:
        """What is safe to show a user: no URLs with passwords, no keys."""
        return {
            "data_dir": str(self.data_dir),
            "database": _redact_url(self.resolved_database_url),
            "redis": _redact_url(self.redis_url),
            "providers": ", ".join(
                f"{stage}={name}"
                for stage, name in (
                    ("script", self.script_provider),
                    ("tts", self.tts_provider),
                    ("image", self.image_provider),
                    ("avatar", self.avatar_provider),
                    ("publish", self.publish_provider),
                )
            ),
        }


def _redact_url(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reload_settings() -> Settings:
    """Re-read the environment (tests and the CLI change it)."""
    get_settings.cache_clear()
    return get_settings()
