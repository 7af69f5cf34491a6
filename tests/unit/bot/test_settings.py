"""Settings read from the environment."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings


def test_relative_paths_in_settings_become_absolute(monkeypatch, tmp_path: Path):
    monkeypatch.chdir(tmp_path)
    settings = Settings(data_dir=Path("rel-data"))
    assert settings.data_dir == tmp_path / "rel-data"  # Rasa's subprocess runs elsewhere
