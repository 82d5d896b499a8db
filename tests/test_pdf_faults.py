"""PDF renders that die, and renders queued twice: taken up again within a minute, never done twice.

The first tests run in this process with the immediate backend (a render "dies" by raising what no
code catches, leaving its claim behind as a killed process would). The last ones run real `db_worker`
processes on a SQLite file, SIGKILL one mid-render, and run two at once over duplicated tasks; they
use tests/fault_settings.py, whose PDF lease is 3 s instead of the production 30 s.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from advisor import knowledge, pdf, reports, tasks
from advisor.models import Report, ReportPDF
from tests import fault_settings
from tests.live import run_probe

PERMALINK = "https://advisor.example.org/reports/1/"
LEASE = fault_settings.PDF_RENDER_LEASE_SECONDS


class Killed(BaseException):
    """Stands for the process dying mid-render: no code in the render catches it, so its claim stays."""


def issue() -> Report:
    kb = knowledge.current()
    return reports.issue(kb, kb.profile("site-to-site").answers, title="Head office to Leeds branch link")


def pdf_url(report: Report) -> str:
    return reverse("advisor:report_pdf", args=[report.id])


@pytest.mark.django_db
def test_a_render_killed_mid_way_is_taken_up_by_the_next_request_once_its_lease_runs_out(
    client, monkeypatch, render_count
):
    report = issue()

    def dies(*args, **kwargs):
        raise Killed

    with monkeypatch.context() as dying:
        dying.setattr(pdf, "layout", dies)
        first = client.get(pdf_url(report))
    assert first.status_code == 202 and "being prepared" in first.content.decode()
    claimed = ReportPDF.objects.get()
    assert claimed.status == ReportPDF.Status.PENDING and claimed.attempts == 1
    assert claimed.lease_until > timezone.now() and not claimed.stalled

    # The lease is live: the render may still be working, so nobody renders it again.
    again = client.get(pdf_url(report))
    assert again.status_code == 202 and "being prepared" in again.content.decode()
    assert render_count == [0]
    assert ReportPDF.objects.get().attempts == 1

    # Nobody renewed the lease: it runs out (30 s in production), and the next request renders it.
    ReportPDF.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    assert ReportPDF.objects.get().stalled
    taken_up = client.get(pdf_url(report))
    assert taken_up.status_code == 200
    assert b"".join(taken_up.streaming_content).startswith(b"%PDF")
    assert render_count == [1]
    stored = ReportPDF.objects.get()
    assert stored.status == ReportPDF.Status.READY and stored.attempts == 2
    assert stored.lease_token == "" and stored.lease_until is None


def stored_files(folder: str = "reports") -> set[str]:
    """Every file in the (in-memory) storage under folder."""
    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return set()
    return {f"{folder}/{name}" for name in files}.union(*(stored_files(f"{folder}/{sub}") for sub in folders))


@pytest.mark.django_db
def test_a_render_that_lost_its_lease_discards_its_pdf_and_the_one_that_took_over_is_kept(monkeypatch):
    report = issue()
    layout = pdf.layout
    before = stored_files()
    overtaken: list[ReportPDF] = []

    def stalls_until_taken_over(*args, **kwargs):
        # This render stops renewing its lease long enough for the next request to take the PDF over.
        monkeypatch.setattr(pdf, "layout", layout)
        ReportPDF.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
        overtaken.append(tasks.ensure_pdf(report, "a4", PERMALINK))
        return layout(*args, **kwargs)

    monkeypatch.setattr(pdf, "layout", stalls_until_taken_over)
    stored = tasks.ensure_pdf(report, "a4", PERMALINK)
    (taker,) = overtaken
    assert taker.status == ReportPDF.Status.READY and taker.attempts == 2
    assert stored.status == ReportPDF.Status.READY and stored.attempts == 2
    assert stored.file.name == taker.file.name and stored.rendered_at == taker.rendered_at
    assert stored_files() - before == {stored.file.name}, "the overtaken render deleted the file it wrote"


@pytest.mark.django_db
def test_a_pending_pdf_whose_task_ended_without_rendering_is_rendered_by_the_next_request(
    client, render_count
):
    report = issue()
    ReportPDF.objects.create(report=report, paper="a4", permalink=PERMALINK, task_id=str(uuid.uuid4()))
    response = client.get(pdf_url(report))
    assert response.status_code == 200
    assert render_count == [1]
    assert ReportPDF.objects.get().attempts == 1


# Real processes: db_worker on a SQLite file.


def fault_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.fault_settings",
        "DEBUG": "1",
        "SECRET_KEY": "tests-only-not-a-secret",
        "TASK_BACKEND": "database",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'faults.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }


def set_up(env: dict[str, str], reports_wanted: int, copies: int) -> list[str]:
    """Migrate, issue reports and ask for their PDFs in a process of its own (tests/pdf_fault_probe.py)."""
    outcome = run_probe("pdf_fault_probe.py", env, str(reports_wanted), str(copies), timeout=120)
    assert outcome["statuses"] == [202] * reports_wanted, "the page says the PDF is being prepared"
    return outcome["reports"]


class Workers:
    """db_worker processes on the test's database; every one is killed when the test ends."""

    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.env, self.tmp_path, self.started = env, tmp_path, []

    def start(self, name: str) -> subprocess.Popen:
        log = (self.tmp_path / f"{name}.log").open("w")
        arguments = [
            "db_worker",
            "--no-reload",
            "--interval",
            "0.05",
            "--no-startup-delay",
            "--worker-id",
            name,
        ]
        process = subprocess.Popen(
            [sys.executable, "manage.py", *arguments],
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        """Stop as an operator does (SIGTERM): the worker ends the task in hand, then exits."""
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-2000:]}" for log in self.tmp_path.glob("*.log"))

    def kill_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


def query(tmp_path: Path, sql: str) -> list[dict]:
    with closing(sqlite3.connect(tmp_path / "faults.sqlite3", timeout=20)) as database:
        database.row_factory = sqlite3.Row
        return [dict(row) for row in database.execute(sql)]


def pdf_rows(tmp_path: Path) -> list[dict]:
    return query(tmp_path, f"SELECT * FROM {ReportPDF._meta.db_table} ORDER BY id")


def task_rows(tmp_path: Path) -> list[dict]:
    return query(tmp_path, f"SELECT * FROM {DBTaskResult._meta.db_table} ORDER BY enqueued_at")


def wait_for(condition: Callable[[], bool], timeout: float, workers: Workers, every: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up after {timeout} s\n{workers.logs()}"
        time.sleep(every)


def test_a_worker_killed_mid_render_leaves_nothing_stuck_and_the_next_worker_finishes_it(tmp_path):
    env = fault_env(tmp_path)
    set_up(env, reports_wanted=1, copies=1)
    workers = Workers(env, tmp_path)
    try:
        first = workers.start("first")
        wait_for(lambda: pdf_rows(tmp_path)[0]["attempts"] == 1, timeout=30, workers=workers)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
        (row,) = pdf_rows(tmp_path)
        assert row["status"] == "pending" and row["lease_token"], "killed mid-render, holding its lease"
        (dead,) = [task for task in task_rows(tmp_path) if task["status"] == "RUNNING"]
        assert dead["task_path"] == "advisor.tasks.render_report_pdf"

        # No request comes: the render's watchdog, due once its lease has run out, is run by the next
        # worker, which marks the dead task failed and queues the render again.
        second = workers.start("second")
        wait_for(lambda: pdf_rows(tmp_path)[0]["status"] == "ready", timeout=LEASE + 30, workers=workers)
        recovered_in = time.monotonic() - killed_at
        workers.stop(second)
    finally:
        workers.kill_all()

    (row,) = pdf_rows(tmp_path)
    assert row["attempts"] == 2 and row["lease_token"] == "" and row["lease_until"] is None
    stored = tmp_path / "media" / row["file"]
    assert stored.read_bytes().startswith(b"%PDF")
    assert [path for path in (tmp_path / "media").rglob("*") if path.is_file()] == [stored]
    results = {task["id"]: task for task in task_rows(tmp_path)}
    assert [task for task in results.values() if task["status"] == "RUNNING"] == []
    abandoned = results[dead["id"]]
    assert abandoned["status"] == "FAILED"
    assert abandoned["exception_class_path"] == "advisor.tasks.RenderAbandoned"
    assert "the worker running this task stopped" in abandoned["traceback"]
    assert results[uuid.UUID(row["task_id"]).hex]["status"] == "SUCCESSFUL", "the second attempt's task"

    # From the kill: the lease runs out, the watchdog looks a second later, then one render.
    overhead = recovered_in - LEASE
    assert overhead < 10, f"taken up {recovered_in:.1f} s after the kill with a {LEASE} s lease"
    production = ReportPDF.lease_length().total_seconds()
    assert production + overhead < 45, "with the production lease, well within a minute"


def test_two_workers_render_each_pdf_once_though_each_render_is_queued_three_times(tmp_path):
    env = fault_env(tmp_path)
    report_ids = set_up(env, reports_wanted=4, copies=3)
    workers = Workers(env, tmp_path)
    try:
        both = [workers.start("one"), workers.start("two")]
        wait_for(
            lambda: [row["status"] for row in pdf_rows(tmp_path)] == ["ready"] * len(report_ids),
            timeout=60,
            workers=workers,
            every=0.1,
        )
        for process in both:
            workers.stop(process)
    finally:
        workers.kill_all()

    rows = pdf_rows(tmp_path)
    assert sorted(uuid.UUID(row["report_id"]) for row in rows) == sorted(uuid.UUID(id) for id in report_ids)
    assert [row["attempts"] for row in rows] == [1] * len(report_ids), "each PDF rendered once"
    files = sorted(path for path in (tmp_path / "media").rglob("*") if path.is_file())
    assert files == sorted(tmp_path / "media" / row["file"] for row in rows), "one stored file per PDF"
    renders = [task for task in task_rows(tmp_path) if task["task_path"] == "advisor.tasks.render_report_pdf"]
    assert len(renders) == 3 * len(report_ids)
    assert sorted(json.loads(task["return_value"]) for task in renders) == sorted(
        ["ready"] * len(report_ids) + ["skipped"] * 2 * len(report_ids)
    )
    assert {worker for task in renders for worker in json.loads(task["worker_ids"])} == {"one", "two"}
    assert [task for task in task_rows(tmp_path) if task["status"] == "RUNNING"] == []


def test_the_production_lease_lets_a_killed_render_be_taken_up_within_a_minute():
    from django.conf import settings

    from advisor.models import ReportPDF

    assert settings.PDF_RENDER_LEASE_SECONDS == 30
    assert ReportPDF.lease_length().total_seconds() + 10 < 60
