"""Loading is idempotent, keeps admin edits, and the fixture round-trips without loss."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from advisor import fixture_io
from advisor.models import KNOWLEDGE_BASE_MODELS, KnowledgeBaseVersion, Rating

pytestmark = pytest.mark.django_db


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in KNOWLEDGE_BASE_MODELS}


def run_load_command() -> str:
    out = StringIO()
    call_command("load_knowledge_base", stdout=out)
    return out.getvalue()


def test_shipped_fixture_loads_once_and_is_recorded_as_a_version():
    version = KnowledgeBaseVersion.objects.get(action=KnowledgeBaseVersion.Action.LOADED)
    assert version.object_repr == "knowledge_base.json"
    assert "protocols" in version.message
    assert KnowledgeBaseVersion.objects.count() == 1


def test_loading_again_changes_nothing():
    before, version = row_counts(), KnowledgeBaseVersion.current_number()
    assert "already present" in run_load_command()
    assert "already present" in run_load_command()
    assert row_counts() == before
    assert KnowledgeBaseVersion.current_number() == version


def test_an_admin_edit_survives_a_second_load():
    rating = Rating.objects.first()
    rating.score = (rating.score + 1) % 6
    rating.rationale = "Edited by a maintainer after review."
    rating.save()
    run_load_command()
    rating.refresh_from_db()
    assert rating.rationale == "Edited by a maintainer after review."


def test_load_into_an_empty_database_and_replace_on_request():
    for model in reversed(KNOWLEDGE_BASE_MODELS):
        model.objects.all().delete()
    assert fixture_io.is_empty()
    assert "Knowledge base version" in run_load_command()
    loaded = row_counts()
    assert all(loaded.values())
    Rating.objects.update(rationale="changed")
    call_command("load_knowledge_base", "--replace", stdout=StringIO())
    assert row_counts() == loaded
    assert not Rating.objects.filter(rationale="changed").exists()


def test_export_reproduces_the_shipped_fixture_exactly():
    assert fixture_io.export_json() == fixture_io.SHIPPED_FIXTURE.read_text(encoding="utf-8")


def test_export_and_reimport_lose_nothing(tmp_path):
    Rating.objects.filter(pk=Rating.objects.first().pk).update(
        rationale="A maintainer's wording, with “quotes”."
    )
    exported = tmp_path / "export.json"
    call_command("export_knowledge_base", "--output", str(exported), stdout=StringIO())
    first_export = exported.read_text(encoding="utf-8")
    assert "natural" not in first_export and '"pk"' not in first_export
    call_command("load_knowledge_base", "--replace", "--fixture", str(exported), stdout=StringIO())
    assert fixture_io.export_json() == first_export
    assert Rating.objects.filter(rationale="A maintainer's wording, with “quotes”.").count() == 1


def test_fixture_is_valid_json_without_database_ids():
    data = json.loads(fixture_io.SHIPPED_FIXTURE.read_text(encoding="utf-8"))
    assert all("pk" not in row for row in data)
    assert {row["model"] for row in data} == {
        f"advisor.{model._meta.model_name}" for model in KNOWLEDGE_BASE_MODELS
    }


@pytest.mark.django_db(transaction=True)
def test_make_run_setup_steps_twice_on_a_fresh_sqlite_file(tmp_path, reload_kb):
    """The exact commands `make run` uses, run twice on a new database, as separate processes."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "advisor.settings",
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
    }

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    manage("migrate", "--no-input")
    assert "Knowledge base version 1" in manage("load_knowledge_base")
    manage(
        "shell",
        "-c",
        "from advisor.models import Rating; Rating.objects.filter(pk=1).update(rationale='kept')",
    )
    manage("migrate", "--no-input")
    assert "already present" in manage("load_knowledge_base")
    check = (
        "from advisor.models import Rating; print(Rating.objects.get(pk=1).rationale, Rating.objects.count())"
    )
    kept, count = manage("shell", "--no-imports", "-c", check).split()
    assert kept == "kept"
    assert int(count) == Rating.objects.count()
