"""Defaults that point into the checkout: the data root is the repository's ``data/``."""

from __future__ import annotations

from pathlib import Path

from ytmaker.core.settings import REPO_ROOT, Settings

REPO = Path(__file__).resolve().parent.parent


def test_the_default_data_root_is_the_checkouts_data_folder(monkeypatch):
    monkeypatch.delenv("DATA_DIR", raising=False)
    assert REPO_ROOT == REPO
    data_dir = Settings(_env_file=None).data_dir
    assert Path(data_dir).resolve() == REPO / "data"
    assert (Path(data_dir) / "samples" / "taipei-101.zh-TW.txt").is_file()
