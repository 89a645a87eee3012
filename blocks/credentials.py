"""Provider credentials as a Prefect block, for workers that should not carry a `.env`.

Register and fill it from the current environment with one command:

    GEMINI_API_KEY=... STABILITY_API_KEY=... ytmaker credentials save

Environment variables win over the block: a key set in the environment is used as is; a
key that is not set there is taken from the block (``YTMAKER_CREDENTIALS_BLOCK``,
default ``default``).
"""

from __future__ import annotations

from typing import Optional

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

# Block field -> the setting (and environment variable) it stands in for.
FIELDS = {
    "gemini_api_key": "GEMINI_API_KEY",
    "google_tts_api_key": "GOOGLE_TTS_API_KEY",
    "stability_api_key": "STABILITY_API_KEY",
    "did_api_key": "DID_API_KEY",
    "youtube_token_json": "YOUTUBE_TOKEN_FILE",
}


class YtmakerCredentials(Block):
    """API keys for ytmaker's cloud providers (all optional, all secret)."""

    _block_type_name = "ytmaker-credentials"
    _block_type_slug = "ytmaker-credentials"
    _description = "API keys and the YouTube OAuth token for ytmaker's cloud providers."

    gemini_api_key: Optional[SecretStr] = Field(None, description="Gemini API key")
    google_tts_api_key: Optional[SecretStr] = Field(None, description="Google Cloud Text-to-Speech API key")
    stability_api_key: Optional[SecretStr] = Field(None, description="Stability AI API key")
    did_api_key: Optional[SecretStr] = Field(None, description="D-ID API key")
    youtube_token_json: Optional[SecretStr] = Field(
        None, description="Contents of the authorized-user token file for YouTube"
    )
