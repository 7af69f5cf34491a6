"""The Rasa project itself: data validates, the held-in test conversations pass with the trained model."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.dialogue.supervisor import DIALOGUE_DIR, ensure_model, prepare_training_data, rasa_env, rasa_python
from bot.settings import Settings
from knowledge.ingest import ensure_index

pytestmark = pytest.mark.slow  # Rasa validates and tests the trained model


@pytest.fixture(scope="module")
def settings(dialogue_model: Path) -> Settings:
    return Settings(data_dir=dialogue_model)


def _rasa(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(rasa_python(settings)), "-m", "rasa", *args],
        cwd=settings.data_dir / "rasa", env=rasa_env(settings), capture_output=True, text=True, timeout=1800,
    )  # fmt: skip


def test_rasa_data_validates(settings: Settings):
    generated, _ = prepare_training_data(settings, ensure_index(settings))
    result = _rasa(
        settings, "data", "validate", "--fail-on-warnings",
        "--config", str(DIALOGUE_DIR / "config.yml"), "--domain", str(DIALOGUE_DIR / "domain.yml"),
        "--data", str(DIALOGUE_DIR / "data"), str(generated),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_held_in_conversations_pass(settings: Settings, tmp_path):
    model = ensure_model(settings, ensure_index(settings))
    out = tmp_path / "results"
    result = _rasa(
        settings, "test", "core", "--model", str(model), "--stories", str(DIALOGUE_DIR / "tests"),
        "--out", str(out), "--fail-on-prediction-errors",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
