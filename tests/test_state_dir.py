"""Where local state lives when ``DEALCYCLE_STATE_DIR`` is not set: the checkout's
``.dealcycle``, whatever the directory a command runs from."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealcycle.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def test_a_command_run_from_elsewhere_uses_the_checkouts_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.state_dir == REPO / ".dealcycle"
    assert settings.database_url == f"sqlite:///{REPO / '.dealcycle' / 'dealcycle.db'}"
    assert not (tmp_path / ".dealcycle").exists()


def test_a_state_dir_given_is_taken_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"DEALCYCLE_STATE_DIR": "here"})
    assert settings.state_dir == tmp_path / "here"
