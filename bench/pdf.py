"""Report PDFs: first render of every shipped profile's report, and the download once it is stored.

Run: .venv/bin/python bench/pdf.py   (uses a throwaway SQLite database with the shipped knowledge base,
and a throwaway media directory for the stored PDFs)
"""

from __future__ import annotations

import logging
import os
import statistics
import tempfile

from common import median_ms, setup_django

ROUNDS = 5
"""Fresh reports timed per profile; each render takes most of a second, so a few give a stable median."""

FIRST_RENDER_TARGET_MS = 1000
DOWNLOAD_TARGET_MS = 20


def main() -> None:
    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp()
    setup_django()
    # The task backend and WeasyPrint announce every render at INFO: keep the figures readable.
    logging.disable(logging.INFO)
    from django.test import Client
    from django.urls import reverse

    from advisor import knowledge, reports, tasks

    kb = knowledge.current()
    client = Client()

    def permalink(report) -> str:
        return "http://testserver" + reverse("advisor:report", args=[report.id])

    print(f"Report PDFs on A4, median of {ROUNDS} fresh reports per profile (render and store, no cache)")
    first_render = {}
    for profile in kb.profiles:
        fresh = iter([reports.issue(kb, profile.answers) for _ in range(ROUNDS + 1)])
        stored = []

        def render(fresh=fresh, stored=stored) -> None:
            report = next(fresh)
            stored.append(tasks.ensure_pdf(report, "a4", permalink(report)))

        first_render[profile.slug] = median_ms(render, rounds=ROUNDS)
        row = stored[-1]
        assert row.status == "ready", row.error
        print(
            f"  {profile.slug:<36} {first_render[profile.slug]:6.0f} ms {row.pages:3d} pages {row.size / 1024:5.0f} KiB"
        )
    print(
        f"first render, median over profiles:   {statistics.median(first_render.values()):6.0f} ms "
        f"(target < {FIRST_RENDER_TARGET_MS} ms)"
    )
    print(f"first render, slowest profile:        {max(first_render.values()):6.0f} ms")

    report = reports.issue(kb, kb.profile("site-to-site").answers)
    tasks.ensure_pdf(report, "a4", permalink(report))
    url = reverse("advisor:report_pdf", args=[report.id])

    def download() -> None:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        assert b"".join(response.streaming_content).startswith(b"%PDF-")

    print(
        f"cached download through the test client: {median_ms(download):6.2f} ms "
        f"(target < {DOWNLOAD_TARGET_MS} ms)"
    )


if __name__ == "__main__":
    main()
