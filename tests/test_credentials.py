"""Provider keys from the Prefect credentials block; the environment wins."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from blocks.credentials import YtmakerCredentials
from ytmaker.cli import main
from blocks.credentials import forget_cached_block, with_block_credentials
from ytmaker.core.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def saved_block(env):
    env(YTMAKER_CREDENTIALS_BLOCK="test-creds")
    YtmakerCredentials.register_type_and_schema()
    YtmakerCredentials(
        gemini_api_key=SecretStr("block-gemini-key"),
        stability_api_key=SecretStr("block-stability-key"),
        youtube_token_json=SecretStr(json.dumps({"type": "authorized_user", "refresh_token": "block-refresh"})),
    ).save("test-creds", overwrite=True)
    forget_cached_block()
    yield
    forget_cached_block()


def test_block_fills_what_the_environment_does_not_set(saved_block, env, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("YOUTUBE_TOKEN_FILE", raising=False)
    env(STABILITY_API_KEY="env-stability-key")
    settings = with_block_credentials(get_settings())
    assert settings.gemini_api_key.get_secret_value() == "block-gemini-key"
    assert settings.stability_api_key.get_secret_value() == "env-stability-key"  # the environment wins
    assert settings.did_api_key is None  # in neither place
    token = settings.youtube_token_file
    assert json.loads(token.read_text())["refresh_token"] == "block-refresh"
    assert oct(token.stat().st_mode & 0o777) == "0o600"


def test_credentials_save_stores_the_environment_keys(env, capsys):
    env(YTMAKER_CREDENTIALS_BLOCK="from-env", DID_API_KEY="env-did-key", GEMINI_API_KEY="env-gemini-key")
    assert main(["credentials", "save"]) == 0
    out = capsys.readouterr().out
    assert "DID_API_KEY" in out and "GEMINI_API_KEY" in out and "env-did-key" not in out
    block = YtmakerCredentials.load("from-env")
    assert block.did_api_key.get_secret_value() == "env-did-key"
    assert main(["credentials", "show"]) == 0
    shown = capsys.readouterr().out
    assert "env-gemini-key" not in shown and "GEMINI_API_KEY" in shown
