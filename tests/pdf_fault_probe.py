"""Sets up a real SQLite file for test_pdf_faults.py, in its own process (DATABASE_URL, MEDIA_ROOT).

`python tests/pdf_fault_probe.py REPORTS COPIES` migrates, loads the knowledge base, issues REPORTS
reports and asks for each one's PDF as a browser does (GET /reports/<id>/pdf/, which queues the render
when TASK_BACKEND=database), then queues that same render COPIES - 1 more times, as a duplicate would
be. It prints one JSON line: the report ids and the status of each PDF page.
"""

from __future__ import annotations

import json
import os
import sys

import django


def main(reports_wanted: int, copies: int) -> None:
    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse
    from django_tasks_db.models import DBTaskResult

    from advisor import fixture_io, knowledge, reports, tasks
    from advisor.models import ReportPDF

    call_command("migrate", verbosity=0)
    fixture_io.load()
    kb = knowledge.current()
    client = Client(HTTP_HOST="localhost")
    ids, statuses = [], []
    for number in range(reports_wanted):
        report = reports.issue(kb, kb.profile("site-to-site").answers, title=f"Report {number}")
        statuses.append(client.get(reverse("advisor:report_pdf", args=[report.id])).status_code)
        queued = DBTaskResult.objects.get(id=ReportPDF.objects.get(report=report).task_id)
        for _ in range(copies - 1):
            tasks.render_report_pdf.enqueue(*queued.args_kwargs["args"])
        ids.append(str(report.id))
    print(json.dumps({"reports": ids, "statuses": statuses}))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main(int(sys.argv[1]), int(sys.argv[2]))
