"""The deployment bundle of a report: the PDF, the decision record and configuration starting points.

Everything is built from the report's stored snapshot (its answers, design and the
settings the knowledge base selected when it was issued), so a report's bundle
never changes when the knowledge base does. No key, certificate or preshared key
is ever generated: the configuration files carry placeholders, and each part's
README gives the command that makes each value.
"""

from __future__ import annotations

import io
import zipfile

from django.template.loader import render_to_string
from django.utils.text import slugify

from advisor import configs, decision
from advisor.models import Report

PRODUCT = "Protocol Advisor"


def has_bundle(report: Report) -> bool:
    """Reports issued before designs had parts carry no settings to build configurations from."""
    return "parts" in report.result


def part_folder(number: int, part: dict) -> str:
    return f"configs/{number}-{slugify(part['name'])}"


def part_contexts(report: Report, permalink: str) -> list[tuple[str, dict]]:
    """The template context of each part of the design, with the folder its files go to."""
    stamp = {
        "product": PRODUCT,
        "knowledge_base_version": report.knowledge_base_version,
        "date": f"{report.created_at:%Y-%m-%d}",
        "title": report.title or report.primary_name,
        "permalink": permalink,
    }
    answers = {f"{row['question']}:{option['slug']}" for row in report.answers for option in row["options"]}
    contexts = []
    for number, part in enumerate(report.result["parts"], start=1):
        if not part["layers"]:
            continue
        context = {
            "stamp": stamp,
            "part": {
                "name": part["name"],
                "flow": (part["flow"] or {}).get("slug"),
                "layers": part["layers"],
            },
            "answers": answers,
            "settings": {
                protocol: {key: setting["values"] for key, setting in keys.items()}
                for protocol, keys in part.get("settings", {}).items()
            },
        }
        contexts.append((part_folder(number, part), context))
    return contexts


def files(report: Report, permalink: str, report_pdf: bytes) -> dict[str, bytes]:
    """Every file of the bundle by its path inside the archive."""
    record = decision.record(report, permalink)
    contents: dict[str, bytes] = {
        "report.pdf": report_pdf,
        "decision-record.md": decision.as_markdown(record).encode(),
        "decision.json": decision.as_json(record).encode(),
        "decision.schema.json": decision.schema_json().encode(),
    }
    folders = []
    for folder, context in part_contexts(report, permalink):
        rendered = configs.render_part(context)
        folders.append({"folder": folder, "name": context["part"]["name"], "files": sorted(rendered)})
        contents |= {f"{folder}/{path}": text.encode() for path, text in rendered.items()}
    contents["README.md"] = render_to_string(
        "advisor/bundle_readme.md",
        {"report": report, "permalink": permalink, "record": record, "folders": folders},
    ).encode()
    return contents


def archive(report: Report, permalink: str, report_pdf: bytes) -> bytes:
    """The bundle as a zip file; entries carry the report's issue time, so the bytes depend on the report only."""
    stamp = report.created_at.timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for path, content in sorted(files(report, permalink, report_pdf).items()):
            entry = zipfile.ZipInfo(f"{folder_name(report)}/{path}", date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            bundle.writestr(entry, content)
    return buffer.getvalue()


def folder_name(report: Report) -> str:
    subject = slugify(report.title) or slugify(report.primary_name)
    return f"protocol-advisor-{subject}-{report.created_at:%Y-%m-%d}"


def filename(report: Report) -> str:
    return f"{folder_name(report)}.zip"
