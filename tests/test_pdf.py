"""Report PDFs: what they say, how they are built, what they refuse to fetch, and how they are stored."""

from __future__ import annotations

import base64
import io
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import weasyprint
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from pypdf import PdfReader

from advisor import knowledge, pdf, reports, tasks
from advisor.models import Report, ReportPDF

pytestmark = pytest.mark.django_db

STATIC_DIR = Path(settings.STATICFILES_DIRS[0])
PRINT_CSS = f"{pdf.BASE_URL}static/advisor/print.css"
REPORT_CSS = f"{pdf.BASE_URL}static/advisor/report.css"
PERMALINK = "https://advisor.example.org/reports/1/"


def issue(title: str = "Head office to Leeds branch link", organisation: str = "Northwind Trading") -> Report:
    kb = knowledge.current()
    return reports.issue(kb, kb.profile("site-to-site").answers, title=title, organisation=organisation)


def text_of(reader: PdfReader) -> str:
    """All pages' text with whitespace collapsed, so line breaks do not split what a test looks for."""
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.fixture
def report() -> Report:
    return issue()


@pytest.fixture(scope="module")
def site_to_site(django_db_setup, django_db_blocker) -> tuple[Report, PdfReader]:
    """One titled report and its A4 PDF, rendered once for the tests that only read it.

    pytest-django's database access is per test; the report is built unsaved (as the command line's
    are), so nothing outlives the module.
    """
    with django_db_blocker.unblock():
        kb = knowledge.current()
        report = reports.issue(
            kb,
            kb.profile("site-to-site").answers,
            title="Head office to Leeds branch link",
            organisation="Northwind Trading",
            save=False,
        )
        report.created_at = timezone.now()
        return report, PdfReader(io.BytesIO(pdf.render(report, permalink=PERMALINK)))


@pytest.fixture
def fetched(monkeypatch) -> list[str]:
    """Every URL WeasyPrint asks the fetcher for, refused or not."""
    calls: list[str] = []
    fetch = pdf.StaticFilesFetcher.fetch

    def recording(self, url, headers=None):
        calls.append(url)
        return fetch(self, url, headers)

    monkeypatch.setattr(pdf.StaticFilesFetcher, "fetch", recording)
    return calls


def test_pdf_states_the_recommendation_its_sources_and_the_users_title(site_to_site):
    report, reader = site_to_site
    text = text_of(reader)
    assert len(reader.pages) > 1
    assert report.primary_name == "IPsec ESP, tunnel mode (IKEv2)"
    assert report.primary_name in text
    assert "RFC 7296" in text
    assert "Head office to Leeds branch link" in text
    assert "Northwind Trading" in text
    assert PERMALINK in text
    assert "Page 1 of" in text


def test_pdf_of_a_design_in_parts_gives_each_part_its_why_guidance_and_limits(caplog):
    kb = knowledge.current()
    answers = {**kb.profile("sites-and-customer-portal").answers, "path": ("unknown",)}
    report = reports.issue(kb, answers)
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        text = text_of(PdfReader(io.BytesIO(pdf.render(report, permalink=PERMALINK))))
    assert [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")] == [], (
        "report.css and print.css hold nothing WeasyPrint ignores with a warning"
    )
    assert "IPsec ESP, tunnel mode (IKEv2) + TLS 1.3 / 1.2" in text
    assert "Part 1: Link between sites" in text and "Part 2: Public service" in text
    assert "Assumptions made for open questions" in text and "Network path" in text
    assert "RFC 4301 section 4.1" in text, "guidance cites its section"
    assert "Redirect to HTTPS and send HSTS" in text
    assert "Known limits of IPsec ESP, tunnel mode (IKEv2)" in text, "folded on the page, whole on paper"
    assert "Traffic is protected only between the gateways" in text


def test_pdf_metadata_names_title_author_language_and_date(site_to_site):
    report, reader = site_to_site
    assert reader.metadata.title == "Head office to Leeds branch link"
    assert reader.metadata.author == "Northwind Trading"
    assert reader.metadata.creation_date.date() == report.created_at.date()
    assert reader.trailer["/Root"]["/Lang"] == "en"


def test_pdf_without_a_title_or_organisation_uses_the_products_names():
    reader = PdfReader(io.BytesIO(pdf.render(issue(title="", organisation=""), permalink=PERMALINK)))
    assert reader.metadata.title == pdf.DEFAULT_TITLE
    assert reader.metadata.author == "Protocol Advisor"


def test_pdf_is_tagged_for_assistive_technology(site_to_site):
    reader = site_to_site[1]
    catalog = reader.trailer["/Root"]
    assert catalog["/MarkInfo"]["/Marked"].value is True
    assert catalog["/StructTreeRoot"]["/Type"] == "/StructTreeRoot"
    assert catalog["/ViewerPreferences"]["/DisplayDocTitle"].value is True
    assert b"pdfuaid:part" in catalog["/Metadata"].get_object().get_data()


def test_pdf_embeds_the_systems_dejavu_fonts(site_to_site):
    reader = site_to_site[1]
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
            fonts[font["/BaseFont"]] = "/FontFile2" in descriptor
    assert fonts
    assert all("DejaVu-Sans" in name for name in fonts), fonts
    assert all(fonts.values()), fonts


@pytest.mark.parametrize(("paper", "size"), [("a4", (595, 842)), ("letter", (612, 792))])
def test_pdf_is_laid_out_on_the_paper_asked_for(case_pdfs, paper, size):
    box = case_pdfs[paper].pages[0].mediabox
    assert (round(box.width), round(box.height)) == size


def test_pdf_refuses_an_unknown_paper_size(report):
    with pytest.raises(ValueError, match="tabloid"):
        pdf.render(report, "tabloid", permalink=PERMALINK)


def test_typed_markup_and_urls_render_as_text_and_fetch_nothing(fetched):
    title = '<img src="http://127.0.0.1:1/x"> file:///etc/passwd'
    organisation = '<link rel="stylesheet" href="file:///etc/passwd">'
    reader = PdfReader(io.BytesIO(pdf.render(issue(title, organisation), permalink=PERMALINK)))
    assert fetched == [REPORT_CSS, PRINT_CSS]
    assert title in text_of(reader)
    assert organisation in text_of(reader)
    assert reader.metadata.title == title


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/x",
        "https://example.org/static/advisor/print.css",
        "ftp://example.org/print.css",
        "file:///etc/passwd",
        f"file://{STATIC_DIR}/../advisor/settings.py",
        f"file://{STATIC_DIR}/../../../etc/passwd",
        f"{pdf.BASE_URL}static/../advisor/settings.py",
        f"{pdf.BASE_URL}static/%2e%2e/advisor/settings.py",
        f"{pdf.BASE_URL}static/advisor/../../advisor/settings.py",
        f"{pdf.BASE_URL}advisor/settings.py",
        f"{pdf.BASE_URL}static/advisor/missing.css",
        f"{pdf.BASE_URL}static/advisor/",
        "https://protocol-advisor.invalid@example.org/static/advisor/print.css",
        "http://protocol-advisor.invalid/static/advisor/print.css",
    ],
)
def test_fetcher_refuses_everything_but_static_files(url):
    with pytest.raises(PermissionError):
        pdf.StaticFilesFetcher().fetch(url)


@pytest.mark.parametrize("url", [PRINT_CSS, f"file://{STATIC_DIR}/advisor/print.css"])
def test_fetcher_serves_the_projects_static_files(url):
    response = pdf.StaticFilesFetcher().fetch(url)
    assert response.content_type == "text/css"
    assert response.read() == (STATIC_DIR / "advisor" / "print.css").read_bytes()


def test_fetcher_serves_data_uris():
    url = "data:image/svg+xml;base64," + base64.b64encode(b"<svg/>").decode()
    response = pdf.StaticFilesFetcher().fetch(url)
    assert response.content_type == "image/svg+xml"
    assert response.read() == b"<svg/>"


def test_fetcher_neither_contacts_a_server_nor_follows_its_redirect():
    requests: list[str] = []

    class Redirecting(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(302)
            self.send_header("Location", PRINT_CSS)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with pytest.raises(PermissionError):
            pdf.StaticFilesFetcher().fetch(f"http://127.0.0.1:{server.server_port}/static/advisor/print.css")
        with pytest.raises(PermissionError):
            pdf.StaticFilesFetcher().open(f"http://127.0.0.1:{server.server_port}/")
    finally:
        server.shutdown()
        server.server_close()
    assert requests == []


def test_filename_carries_the_title_or_the_protocol_and_the_date(report):
    stem = f"protocol-advisor-head-office-to-leeds-branch-link-{report.created_at:%Y-%m-%d}"
    assert pdf.filename(report) == f"{stem}.pdf"
    assert pdf.filename(report, "letter") == f"{stem}-letter.pdf"
    untitled = issue(title="")
    date = f"{untitled.created_at:%Y-%m-%d}"
    assert pdf.filename(untitled) == f"protocol-advisor-ipsec-esp-tunnel-mode-ikev2-{date}.pdf"


def test_ensure_pdf_renders_and_stores_the_pdf(report):
    stored = tasks.ensure_pdf(report, "a4", PERMALINK)
    assert stored.status == ReportPDF.Status.READY
    assert stored.error == ""
    assert stored.rendered_at is not None
    assert stored.render_ms > 0
    assert stored.file.name.startswith("reports/")
    assert stored.file.name.endswith(".pdf")
    with stored.file.open("rb") as file:
        content = file.read()
    assert stored.size == len(content)
    reader = PdfReader(io.BytesIO(content))
    assert stored.pages == len(reader.pages) > 1
    assert report.primary_name in text_of(reader)


def test_ensure_pdf_renders_once_per_report_and_paper(report, render_count):
    first = tasks.ensure_pdf(report, "a4", PERMALINK)
    again = tasks.ensure_pdf(report, "a4", PERMALINK)
    assert render_count == [1]
    assert again.pk == first.pk
    assert again.rendered_at == first.rendered_at
    assert again.file.name == first.file.name
    letter = tasks.ensure_pdf(report, "letter", PERMALINK)
    assert render_count == [2]
    assert letter.pk != first.pk
    assert ReportPDF.objects.filter(report=report).count() == 2


def test_failed_render_is_recorded_not_raised_and_not_retried_on_its_own(report, monkeypatch, render_count):
    def broken(*args, **kwargs):
        raise OSError("cannot load library 'libpango-1.0-0'")

    monkeypatch.setattr(weasyprint.HTML, "render", broken)
    stored = tasks.ensure_pdf(report, "a4", PERMALINK)
    assert stored.status == ReportPDF.Status.FAILED
    assert stored.error == "OSError: cannot load library 'libpango-1.0-0'"
    assert not stored.file
    assert tasks.ensure_pdf(report, "a4", PERMALINK).status == ReportPDF.Status.FAILED
    assert render_count == [1]


def test_ensure_pdf_refuses_an_unknown_paper_size_before_storing_anything(report):
    with pytest.raises(ValueError, match="tabloid"):
        tasks.ensure_pdf(report, "tabloid", PERMALINK)
    assert not ReportPDF.objects.exists()


def test_task_rendering_again_replaces_the_stored_file(report):
    first = tasks.ensure_pdf(report, "a4", PERMALINK)
    tasks.render_report_pdf.call(str(report.id), "a4", PERMALINK)
    again = ReportPDF.objects.get()
    assert again.status == ReportPDF.Status.READY
    assert again.rendered_at > first.rendered_at
    assert again.file.name != first.file.name
    assert not again.file.storage.exists(first.file.name)


def test_recommend_command_writes_the_pdf(tmp_path):
    out, stdout, stderr = tmp_path / "out.pdf", io.StringIO(), io.StringIO()
    arguments = ["--profile", "site-to-site", "--pdf", str(out), "--paper", "letter"]
    call_command("recommend", *arguments, stdout=stdout, stderr=stderr)
    assert "Use IPsec ESP, tunnel mode (IKEv2)." in stdout.getvalue()
    assert f"Wrote {out}" in stderr.getvalue()
    reader = PdfReader(out)
    assert len(reader.pages) > 1
    assert round(reader.pages[0].mediabox.height) == 792
    text = text_of(reader)
    assert "IPsec ESP, tunnel mode (IKEv2)" in text
    assert "(not stored)" in text
    assert reader.metadata.title == pdf.DEFAULT_TITLE
    assert not Report.objects.exists()


@pytest.fixture(scope="module")
def case_pdfs(django_db_setup, django_db_blocker) -> dict[str, PdfReader]:
    """A realistic case with open questions, on A4 and Letter, rendered once for the read-only tests below."""
    from tests.realistic_cases import CASES

    with django_db_blocker.unblock():
        kb = knowledge.current()
        report = reports.issue(kb, CASES["hospital-campuses"].answers, title="Hospital campuses", save=False)
        report.created_at = timezone.now()
        return {
            paper: PdfReader(io.BytesIO(pdf.render(report, paper, permalink=LONG_PERMALINK)))
            for paper in ("a4", "letter")
        }


LONG_PERMALINK = "https://protocol-advisor.example.org/reports/752b95cd-b8c8-4c16-92a1-ca7409ce1a00/"
REPORT_ID = "752b95cd-b8c8-4c16-92a1-ca7409ce1a00"


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_pdf_page_one_holds_the_decision_margin_assumptions_and_contents(case_pdfs, paper):
    first = " ".join(case_pdfs[paper].pages[0].extract_text().split())
    assert "Use IPsec ESP, tunnel mode (IKEv2)." in first
    assert "A decisive lead: 23.1 points ahead of WireGuard." in first
    assert "Assumptions made for open questions" in first and "Network path" in first
    assert "Contents" in first and "Why this design" in first and "Appendix: answers and references" in first


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_pdf_outline_bookmarks_every_section(case_pdfs, paper):
    titles = [entry.title for entry in case_pdfs[paper].outline if not isinstance(entry, list)]
    assert titles == [
        "1. Recommendation",
        "2. Why this design",
        "3. What to configure",
        "4. What would change the answer",
        "5. Warnings and where sources disagree",
        "6. How every option scores",
        "7. Appendix",
    ]


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_pdf_permalink_id_never_breaks_and_one_date_format_is_used(case_pdfs, paper):
    pages = [page.extract_text() for page in case_pdfs[paper].pages]
    lines = [line for page in pages for line in page.splitlines()]
    assert sum(REPORT_ID in line for line in lines) == 2, "cover and appendix, each id on one line"
    assert not any(line.rstrip().endswith(REPORT_ID[:8]) for line in lines), "no line ends inside the id"
    text = " ".join(" ".join(pages).split())
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text), "no ISO date beside the written-out one"
    issued = re.findall(r"\d{1,2} [A-Z][a-z]+ \d{4}, \d\d:\d\d UTC", text)
    assert len(issued) >= len(pages) + 2 and len(set(issued)) == 1, "cover, footers and appendix agree"


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_pdf_headings_copy_out_without_split_letters(case_pdfs, paper):
    text = " ".join(page.extract_text() for page in case_pdfs[paper].pages)
    for word in (
        "ISSUED",
        "KNOWLEDGE BASE",
        "PERMALINK",
        "PROTOCOL ADVISOR RECOMMENDATION",
        "1. RECOMMENDATION",
    ):
        assert word in text
    assert "I SSUED" not in text
    # "A" and "I" are words of their own; any other lone capital before capitals is a split word.
    assert not re.search(r"\b[B-HJ-Z] [A-Z]{2,}", text), "no capital split from the rest of its word"


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_pdf_prints_every_folded_section_whole(case_pdfs, paper):
    from tests.realistic_cases import CASES

    kb = knowledge.current()
    report = reports.issue(kb, CASES["hospital-campuses"].answers, save=False)
    text = text_of(case_pdfs[paper])
    for part in report.result["parts"]:
        for item in part["guidance"]:
            assert item["title"] in text
        assert "Every criterion's points for every protocol" in text
        for row in part["ranking"][0]["contributions"]:
            assert row["criterion_name"] in text
        for row in part["excluded"]:
            assert " ".join(row["reason"].split())[:60] in text
    for row in report.result["answer_changes"]:
        assert " ".join(row["sentence"].split())[:60] in text
    for ref in reports.references(report):
        assert ref["identifier"] in text
    assert "▶" not in text and "►" not in text, "no disclosure markers on paper"
