"""Background work: report PDFs, rendered once per report and paper size and then served from storage.

The immediate task backend renders inside the request that first asks; a database backend hands the
render to `manage.py db_worker`, and the page shows the PDF as pending until it is ready.
"""

from __future__ import annotations

import logging
import time

from django.core.files.base import ContentFile
from django.tasks import task
from django.utils import timezone

from advisor import pdf
from advisor.models import Report, ReportPDF

logger = logging.getLogger(__name__)


@task
def render_report_pdf(report_id: str, paper: str, permalink: str) -> str:
    """Render the report and store the result; a failed render is recorded, not raised, for the page to show."""
    row, _ = ReportPDF.objects.select_related("report").get_or_create(report_id=report_id, paper=paper)
    started = time.perf_counter()
    try:
        document = pdf.layout(row.report, paper, permalink=permalink)
        content = pdf.write(document)
    except Exception as error:
        logger.exception("Rendering the %s PDF of report %s failed", paper, report_id)
        row.status = ReportPDF.Status.FAILED
        row.error = f"{type(error).__name__}: {error}"
        row.save(update_fields=["status", "error"])
        return row.status
    render_ms = round((time.perf_counter() - started) * 1000)
    if row.file:
        row.file.delete(save=False)
    row.file.save(pdf.filename(row.report, paper), ContentFile(content), save=False)
    row.status = ReportPDF.Status.READY
    row.error = ""
    row.rendered_at = timezone.now()
    row.render_ms = render_ms
    row.pages = len(document.pages)
    row.size = len(content)
    row.save()
    return row.status


def ensure_pdf(report: Report, paper: str, permalink: str) -> ReportPDF:
    """The report's PDF on this paper: rendered already, failed already, or enqueued now.

    The unique (report, paper) row makes the first request the only one that enqueues; later ones,
    and concurrent ones, get that row, pending until the task finishes.
    """
    if paper not in ReportPDF.Paper.values:
        raise ValueError(f"Unknown paper size {paper!r}; choose one of {', '.join(ReportPDF.Paper.values)}.")
    row, created = ReportPDF.objects.get_or_create(report=report, paper=paper)
    if created:
        render_report_pdf.enqueue(str(report.id), paper, permalink)
        row.refresh_from_db()
    return row


def pdf_bytes(report: Report, permalink: str, paper: str = ReportPDF.Paper.A4) -> bytes:
    """The stored PDF when it is ready; otherwise rendered now, so a bundle never waits for a task."""
    stored = ensure_pdf(report, paper, permalink)
    if stored.status == ReportPDF.Status.READY:
        with stored.file.open("rb") as handle:
            return handle.read()
    return pdf.render(report, paper, permalink=permalink)
