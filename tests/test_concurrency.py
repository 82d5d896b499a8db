"""Twenty users at once on the embedded SQLite database: every answer saved, no error, no shared version."""

from __future__ import annotations

import os

import pytest

from advisor.models import KnowledgeBaseVersion
from tests.concurrency_probe import STEPS, THREADS
from tests.live import run_probe


def test_twenty_users_saving_steps_at_once_lose_nothing_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "advisor.settings",
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'busy.sqlite3'}",
    }
    outcome = run_probe("concurrency_probe.py", env)
    assert outcome["saved"] == THREADS * len(STEPS) * 2, outcome
    assert set(outcome) == {
        "saved",
        "versions",
        "complete_assessments",
        "versions_distinct",
        "versions_recorded",
        "journal_mode",
    }, outcome
    assert outcome["complete_assessments"] == THREADS + 1
    assert outcome["versions_distinct"] and outcome["versions_recorded"] == outcome["versions"] + 1
    assert outcome["journal_mode"] == "wal"


@pytest.mark.django_db
def test_a_version_number_taken_meanwhile_makes_the_next_writer_take_the_next(monkeypatch):
    """Two admins can read the same newest number; the one who loses the race takes the next number."""
    newest = KnowledgeBaseVersion.current_number()
    real = KnowledgeBaseVersion.current_number.__func__
    calls: list[int] = []

    def current_number(cls) -> int:
        calls.append(1)
        return newest - 1 if len(calls) == 1 else real(cls)

    monkeypatch.setattr(KnowledgeBaseVersion, "current_number", classmethod(current_number))
    version = KnowledgeBaseVersion.record(KnowledgeBaseVersion.Action.CHANGED, message="second admin")
    assert version.number == newest + 1
    assert len(calls) == 2, "the first number was taken, so it tried again"


def test_a_cold_knowledge_base_never_deadlocks_with_a_save_holding_the_write_lock(tmp_path):
    """Found under load: a build waiting for SQLite's write lock while the save holding it waited for the build."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "advisor.settings",
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cold.sqlite3'}",
    }
    outcome = run_probe("knowledge_lock_probe.py", env, timeout=120)
    assert "saving_error" not in outcome and "reading_error" not in outcome, outcome
    assert outcome["saving_seconds"] < 5 and outcome["reading_seconds"] < 5, outcome
