"""Report PDFs: the report page's content laid out for paper, tagged for assistive technology.

Reports carry text that users typed, and WeasyPrint fetches whatever URL a document names, so the
PDF is rendered with a fetcher that reads only this project's static files from disk and data: URIs:
no network, no other file, whatever ends up in the HTML.
"""

from __future__ import annotations

import gc
import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import DataHandler, Request, url2pathname

import weasyprint
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.text import slugify
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from advisor import reports
from advisor.models import Report, ReportPDF

BASE_URL = "https://protocol-advisor.invalid/"
"""Resolves the template's root-relative /static/ links; `.invalid` never resolves (RFC 2606),
and the fetcher answers for its static prefix from disk without going near the network."""

DEFAULT_TITLE = "Protocol Advisor recommendation"

PAGE_SIZES = {ReportPDF.Paper.A4: "A4", ReportPDF.Paper.LETTER: "letter"}

PDF_OPTIONS = {"pdf_variant": "pdf/ua-1"}
"""PDF/UA-1: tagged structure, document language and title shown in the viewer's title bar."""


class StaticFilesFetcher(URLFetcher):
    """Deny by default: serve files under STATICFILES_DIRS and data: URIs, refuse everything else.

    Files are found from the static URL prefix (as the template links them) or from file: URLs, and
    are resolved before the check, so `..`, encoded dots and symlinks cannot leave the static dirs.
    """

    def __init__(self) -> None:
        # The inherited urllib opener is never used; refuse every scheme should anything reach it.
        super().__init__(allowed_protocols=(), allow_redirects=False)
        self.roots = tuple(Path(root).resolve() for root in settings.STATICFILES_DIRS)
        self.static_url = urlsplit(urljoin(BASE_URL, settings.STATIC_URL))

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        if urlsplit(url).scheme.lower() == "data":
            with DataHandler().data_open(Request(url)) as response:
                return URLFetcherResponse(url, response.read(), response.headers)
        path = self.static_file(url)
        if path is None:
            raise PermissionError(f"Not fetched: {url} is neither a static file of this project nor data:")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": content_type})

    def static_file(self, url: str) -> Path | None:
        """The file `url` names inside a static dir, or None when it names anything else."""
        parts = urlsplit(url)
        prefix = self.static_url
        if (parts.scheme.lower(), parts.netloc.lower()) == (prefix.scheme, prefix.netloc) and (
            parts.path.startswith(prefix.path)
        ):
            wanted = unquote(parts.path.removeprefix(prefix.path))
        elif parts.scheme.lower() == "file" and parts.netloc in ("", "localhost"):
            # An absolute path: joined to a root below it replaces the root, and must resolve inside one.
            wanted = url2pathname(parts.path)
        else:
            return None
        for root in self.roots:
            candidate = (root / wanted).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                return candidate
        return None


@cache
def static_only_fetcher() -> StaticFilesFetcher:
    """One per process: the inherited constructor loads the system's CA bundle, some 50 ms, every time."""
    return StaticFilesFetcher()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold off Python's cycle collector while WeasyPrint builds and paints its box tree.

    A render keeps hundreds of thousands of objects alive until it ends, so the collector runs full
    passes over the whole heap in the middle of it, about a sixth of the render time as measured.
    The garbage is collected afterwards as usual. Concurrent renders can only end with it enabled.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def filename(report: Report, paper: str = ReportPDF.Paper.A4) -> str:
    """A name that sorts by date and says what the report is about; Letter copies say so, A4 is the default."""
    subject = slugify(report.title) or slugify(report.primary_name)
    suffix = "" if paper == ReportPDF.Paper.A4 else f"-{paper}"
    return f"protocol-advisor-{subject}-{report.created_at:%Y-%m-%d}{suffix}.pdf"


def layout(report: Report, paper: str = ReportPDF.Paper.A4, *, permalink: str) -> weasyprint.Document:
    """Paginate the report; the document knows its page count before it is written out.

    An unsaved report (the command line's) needs `created_at` set: the cover and metadata show it.
    """
    if paper not in PAGE_SIZES:
        raise ValueError(f"Unknown paper size {paper!r}; choose one of {', '.join(ReportPDF.Paper.values)}.")
    html = render_to_string(
        "advisor/report_pdf.html",
        {
            **reports.context(report, permalink),
            "document_title": report.title or DEFAULT_TITLE,
            "author": report.organisation or "Protocol Advisor",
            "created": report.created_at.isoformat(timespec="seconds"),
            "page_size": PAGE_SIZES[ReportPDF.Paper(paper)],
        },
    )
    with collector_paused():
        document = weasyprint.HTML(string=html, base_url=BASE_URL, url_fetcher=static_only_fetcher())
        return document.render(font_config=FontConfiguration(), **PDF_OPTIONS)


def write(document: weasyprint.Document) -> bytes:
    with collector_paused():
        return document.write_pdf(**PDF_OPTIONS)


def render(report: Report, paper: str = ReportPDF.Paper.A4, *, permalink: str) -> bytes:
    """The report as PDF bytes, on A4 or US Letter."""
    return write(layout(report, paper, permalink=permalink))
