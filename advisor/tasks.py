"""Background work: report PDFs, rendered once per report and paper size and then served from storage.

The immediate task backend renders inside the request that first asks; a database backend hands the
render to `manage.py db_worker`, and the page shows the PDF as pending until it is ready.

A render may die anywhere (a killed worker or server, a machine gone), and a task may be queued twice,
so the unique (report, paper) ReportPDF row is also the lock:

- a render first claims the row with one conditional UPDATE: the row gets the render's token and a
  lease (PDF_RENDER_LEASE_SECONDS, default 30) that a thread renews while WeasyPrint works; a task that
  claims nothing does nothing, so a render never runs twice at once, nor again once done;
- the render stores its PDF only while it still holds its token, and otherwise deletes its file;
- a lease that ran out means its render died. The next request for the PDF (`ensure_pdf`), the next
  render task to start, or the watchdog task queued with each claim for just after its lease
  (`watch_render`) queues the render again, and marks the dead render's task result failed instead of
  leaving it RUNNING. Queuing it again is itself a conditional UPDATE, so it happens once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from advisor import pdf
from advisor.models import Report, ReportPDF

logger = logging.getLogger(__name__)

WATCHDOG_DELAY = timedelta(seconds=1)
"""How long after a lease would run out its watchdog looks, so a renewal just in time is seen."""


class RenderAbandoned(Exception):
    """Recorded on a task result left RUNNING by a worker that stopped (killed, or its machine lost)."""


def _queued() -> bool:
    """Whether renders run in workers (django-tasks-db) rather than inside the request."""
    return isinstance(render_report_pdf.get_backend(), DatabaseBackend)


@task
def render_report_pdf(report_id: str, paper: str, permalink: str, attempt: int | None = None) -> str:
    """Render the report and store the result; a failed render is recorded, not raised, for the page to show.

    `attempt` is the attempt this task was queued for (ensure_pdf and recoveries pass it): once that
    attempt has begun elsewhere, or the PDF is no longer pending, the task is a duplicate and returns.
    Called without it, it renders the PDF again whatever its state, unless another render holds it.
    """
    recover_stalled()
    token = _claim(report_id, paper, attempt)
    if token is None:
        return "skipped"
    row = ReportPDF.objects.select_related("report").get(report_id=report_id, paper=paper)
    done = threading.Event()
    keeper = threading.Thread(target=_keep_lease, args=(row.pk, token, done), daemon=True)
    keeper.start()
    try:
        return _render_and_store(row, token, paper, permalink)
    finally:
        done.set()
        keeper.join()


def _claim(report_id: str, paper: str, attempt: int | None) -> str | None:
    """Take the row for this render (one conditional UPDATE) and queue its watchdog; None if taken or done."""
    now = timezone.now()
    token = uuid.uuid4().hex
    lease_until = now + ReportPDF.lease_length()
    free = ReportPDF.objects.filter(
        Q(lease_until=None) | Q(lease_until__lt=now), report_id=report_id, paper=paper
    )
    if attempt is not None:
        free = free.filter(status=ReportPDF.Status.PENDING, attempts=attempt - 1)
    with transaction.atomic():
        if not free.update(lease_token=token, lease_until=lease_until, attempts=F("attempts") + 1):
            return None
        if _queued():
            _watch(report_id, paper, token, lease_until)
    return token


def _keep_lease(pk: int, token: str, done: threading.Event) -> None:
    """Renew the lease every third of its length until the render is done (a thread beside the render)."""
    every = ReportPDF.lease_length() / 3
    try:
        while not done.wait(every.total_seconds()):
            lease_until = timezone.now() + ReportPDF.lease_length()
            ReportPDF.objects.filter(pk=pk, lease_token=token).update(lease_until=lease_until)
    except DatabaseError:
        logger.exception("Could not renew the lease of PDF %s; another render may take it over", pk)
    finally:
        connection.close()


def _render_and_store(row: ReportPDF, token: str, paper: str, permalink: str) -> str:
    """Render, and store the outcome only while this render still holds the row."""
    holding = ReportPDF.objects.filter(pk=row.pk, lease_token=token)
    released = {"lease_token": "", "lease_until": None}
    started = time.perf_counter()
    try:
        document = pdf.layout(row.report, paper, permalink=permalink)
        content = pdf.write(document)
    except Exception as error:
        logger.exception("Rendering the %s PDF of report %s failed", paper, row.report_id)
        error_text = f"{type(error).__name__}: {error}"
        if not holding.update(status=ReportPDF.Status.FAILED, error=error_text, **released):
            return "overtaken"
        return ReportPDF.Status.FAILED
    render_ms = round((time.perf_counter() - started) * 1000)
    previous = row.file.name
    row.file.save(pdf.filename(row.report, paper), ContentFile(content), save=False)
    stored = holding.update(
        status=ReportPDF.Status.READY,
        file=row.file.name,
        error="",
        rendered_at=timezone.now(),
        render_ms=render_ms,
        pages=len(document.pages),
        size=len(content),
        **released,
    )
    if not stored:
        logger.warning("The %s PDF of report %s was taken over by another render", paper, row.report_id)
        if row.file.name:
            row.file.storage.delete(row.file.name)
        return "overtaken"
    if previous and previous != row.file.name:
        row.file.storage.delete(previous)
    return ReportPDF.Status.READY


@task
def watch_render(report_id: str, paper: str, token: str) -> str:
    """A render's watchdog, queued with its claim for just after its lease: takes it up if it died.

    It is what notices a dead worker when nobody asks for the PDF again and no other render starts.
    While the render still renews its lease, the watchdog queues itself again for after the new lease.
    """
    recover_stalled()
    lease_until = (
        ReportPDF.objects.filter(report_id=report_id, paper=paper, lease_token=token)
        .values_list("lease_until", flat=True)
        .first()
    )
    if lease_until is None or lease_until < timezone.now():
        return "done"
    _watch(report_id, paper, token, lease_until)
    return "renewed"


def _watch(report_id: str, paper: str, token: str, lease_until: datetime) -> None:
    watch_render.using(run_after=lease_until + WATCHDOG_DELAY).enqueue(str(report_id), paper, token)


def recover_stalled() -> int:
    """Queue again every pending PDF whose render died or whose task was lost (database backend only).

    Task results that dead workers left RUNNING are marked failed first. Returns how many PDFs were
    queued again. A failure here is logged, not raised: it must not stop the render that called it.
    """
    if not _queued():
        return 0
    try:
        now = timezone.now()
        _abandon_dead_tasks(now)
        recovered = 0
        candidates = ReportPDF.objects.filter(status=ReportPDF.Status.PENDING).filter(
            Q(lease_until__lt=now) | Q(lease_until=None, requested_at__lt=now - ReportPDF.lease_length())
        )
        for row in candidates.exclude(permalink=""):
            reason = _why_stalled(row, now)
            if reason and _recover(row, reason, row.permalink):
                recovered += 1
        return recovered
    except Exception:
        logger.exception("Could not look for stalled PDF renders")
        return 0


def _why_stalled(row: ReportPDF, now: datetime) -> str:
    """Why this pending row needs its render queued again, or "" when one is under way or queued."""
    if row.status != ReportPDF.Status.PENDING:
        return ""
    if row.lease_until is not None:
        if row.lease_until >= now:
            return ""
        return f"its render stopped renewing its lease (it ran out at {row.lease_until:%H:%M:%S})"
    if not row.permalink:
        return ""  # asked for before leases: nothing says how to render it; the page offers a retry
    if not row.task_id:
        waited = now - row.requested_at > ReportPDF.lease_length()
        return "no task was queued for it (the request that asked for it stopped)" if waited else ""
    if not _queued():
        return "its task ended without rendering it"  # the immediate backend ran it in its request
    try:
        result = DBTaskResult.objects.filter(id=row.task_id).values("status", "started_at").first()
    except ValidationError:  # an id from another backend (TASK_BACKEND changed meanwhile)
        result = None
    if result is None:
        return "its task is gone"
    if result["status"] == TaskResultStatus.READY:
        return ""
    if result["status"] == TaskResultStatus.RUNNING:
        started = result["started_at"]
        dead = started is not None and started < now - ReportPDF.lease_length()
        return "its worker stopped before it began rendering" if dead else ""
    return "its task ended without rendering it"


def _recover(row: ReportPDF, reason: str, permalink: str) -> bool:
    """Queue the render again, unless another request or worker has just done so or a render took it."""
    now = timezone.now()
    unchanged = ReportPDF.objects.filter(
        Q(lease_until=None) | Q(lease_until__lt=now),
        pk=row.pk,
        status=ReportPDF.Status.PENDING,
        attempts=row.attempts,
        lease_token=row.lease_token,
        task_id=row.task_id,
    )
    if not unchanged.update(lease_token="", lease_until=None, task_id="", requested_at=now):
        return False
    logger.warning(
        "Rendering the %s PDF of report %s again (attempt %s): %s",
        row.paper,
        row.report_id,
        row.attempts + 1,
        reason,
    )
    if _queued():
        _abandon_dead_tasks(now)
    _enqueue(row.pk, row.report_id, row.paper, permalink, row.attempts + 1)
    return True


def _abandon_dead_tasks(now: datetime) -> None:
    """Mark failed the PDF task results that workers which stopped left RUNNING.

    A task result RUNNING for longer than a lease whose PDF no render holds has no live worker: a live
    render holds its lease from its first moment and renews it to its last, and the other tasks take
    milliseconds. (Should a live one be marked by mistake, its worker records its real end over this.)
    """
    running = DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING,
        task_path__in=[render_report_pdf.module_path, watch_render.module_path],
        started_at__lt=now - ReportPDF.lease_length(),
    )
    for result in running:
        args, kwargs = result.args_kwargs["args"], result.args_kwargs["kwargs"]
        report_id = args[0] if args else kwargs.get("report_id")
        paper = args[1] if len(args) > 1 else kwargs.get("paper")
        if ReportPDF.objects.filter(report_id=report_id, paper=paper, lease_until__gte=now).exists():
            continue
        logger.warning(
            "Task %s (%s PDF of report %s) was left running by a stopped worker", result.id, paper, report_id
        )
        DBTaskResult.objects.filter(pk=result.pk, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.FAILED,
            finished_at=now,
            return_value=None,
            exception_class_path=f"{RenderAbandoned.__module__}.{RenderAbandoned.__qualname__}",
            traceback="RenderAbandoned: the worker running this task stopped before it ended "
            f"(noticed {now:%Y-%m-%d %H:%M:%S} UTC); the PDF is queued again if it is still pending.",
        )


def _enqueue(pk: int, report_id: object, paper: str, permalink: str, attempt: int) -> None:
    """Queue attempt `attempt` of the render and remember its task (with the immediate backend: render now)."""
    result = render_report_pdf.enqueue(str(report_id), paper, permalink, attempt)
    ReportPDF.objects.filter(pk=pk, task_id="").update(task_id=str(result.id))


def ensure_pdf(report: Report, paper: str, permalink: str) -> ReportPDF:
    """The report's PDF on this paper: rendered already, failed already, being rendered, or enqueued now.

    The unique (report, paper) row makes the first request the only one that enqueues; later ones,
    and concurrent ones, get that row, pending until the task finishes. A later request finding the
    render dead or its task lost queues it again (see the module's docstring).
    """
    if paper not in ReportPDF.Paper.values:
        raise ValueError(f"Unknown paper size {paper!r}; choose one of {', '.join(ReportPDF.Paper.values)}.")
    row, created = ReportPDF.objects.get_or_create(
        report=report, paper=paper, defaults={"permalink": permalink}
    )
    if created:
        _enqueue(row.pk, report.id, paper, permalink, attempt=1)
    elif reason := _why_stalled(row, timezone.now()):
        _recover(row, reason, row.permalink or permalink)
    row.refresh_from_db()
    return row


def pdf_bytes(report: Report, permalink: str, paper: str = ReportPDF.Paper.A4) -> bytes:
    """The stored PDF when it is ready; otherwise rendered now, so a bundle never waits for a task."""
    stored = ensure_pdf(report, paper, permalink)
    if stored.status == ReportPDF.Status.READY:
        with stored.file.open("rb") as handle:
            return handle.read()
    return pdf.render(report, paper, permalink=permalink)
