"""The two lock files: `make run` installs only what runs the app, `make test` adds the tools, same versions."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_LOCK = ROOT / "requirements" / "run.lock"
TEST_LOCK = ROOT / "requirements" / "test.lock"
TOOLS = {
    "pytest",
    "pytest-django",
    "playwright",
    "hypothesis",
    "pypdf",
    "ruff",
    "mypy",
    "django-stubs",
    "locust",
}


def pins(lock: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", lock.read_text(), re.MULTILINE))


def test_the_run_lock_is_part_of_the_test_lock_at_the_same_versions():
    run, test = pins(RUN_LOCK), pins(TEST_LOCK)
    assert {"django", "weasyprint", "django-htmx", "gunicorn", "psycopg"} <= run.keys()
    assert {name: version for name, version in run.items() if test.get(name) != version} == {}


def test_the_run_lock_holds_no_test_tools_and_the_test_lock_holds_them_all():
    assert TOOLS.isdisjoint(pins(RUN_LOCK))
    assert pins(TEST_LOCK).keys() >= TOOLS


def test_every_pin_carries_hashes():
    for lock in (RUN_LOCK, TEST_LOCK):
        entries = re.split(r"\n(?=[A-Za-z0-9._-]+==)", lock.read_text().split("\n", 2)[2])
        assert entries and all("--hash=sha256:" in entry for entry in entries), lock.name


def dry_run(target: str) -> str:
    """What make would run for `target` in a checkout whose environment has nothing installed yet."""
    return subprocess.run(
        ["make", "-n", "-B", target, "VENV=/nonexistent-venv", "PYTHON=python3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_make_run_installs_the_run_lock_only_and_make_test_both():
    run = dry_run("run")
    assert "requirements/run.lock" in run
    assert "requirements/test.lock" not in run
    test = dry_run("test")
    assert "requirements/run.lock" in test and "requirements/test.lock" in test
    assert "mypy" in test
