"""The decision record of a report: what was decided, why, what else was weighed, on what assumptions.

An architecture decision record an auditor can file, as Markdown for people and as
JSON for tools. Both are built from the report's stored snapshot alone, so a
record never changes when the knowledge base does; re-evaluating the report
makes a new report with a new record.
"""

from __future__ import annotations

import hashlib
import json

from django.template.loader import render_to_string
from django.utils.text import slugify
from pydantic import BaseModel, Field

from advisor import engine
from advisor.models import Report

RECORD_FORMAT = 1


class Protocol(BaseModel):
    slug: str
    name: str


class Answer(BaseModel):
    question: str
    question_title: str
    options: list[str] = Field(description="The labels of the chosen options, as the user saw them.")


class Layer(BaseModel):
    role: str = Field(description="'single', or 'outer' and 'inner' for a part with two layers.")
    protocol: Protocol
    mode: str


class Alternative(BaseModel):
    protocol: Protocol
    status: str = Field(description="'runner-up' (meets every requirement) or 'ruled out'.")
    why_not: list[str] = Field(description="For a runner-up, the margin; else the answers that rule it out.")


class Part(BaseModel):
    name: str
    flow: str | None
    layers: list[Layer]
    why: list[str]
    margin: float | None = Field(
        description="Points ahead of the runner-up; null when nothing else qualifies."
    )
    close_call: bool
    alternatives: list[Alternative]
    post_quantum: str | None = Field(description="How urgent post-quantum key exchange is for this part.")


class Source(BaseModel):
    identifier: str
    title: str
    url: str
    sections: list[str] = Field(description="The sections this decision's guidance cites.")


class DecisionRecord(BaseModel):
    """The machine-readable decision record (decision.json); its fields mirror the Markdown record's sections."""

    format: int = Field(description="Version of this shape.")
    title: str
    status: str = Field(description="Always 'accepted as issued': the record is a snapshot of a report.")
    issued: str = Field(description="When the report was issued, ISO 8601 with time zone.")
    report: str = Field(description="The report's permalink.")
    knowledge_base_version: int
    answers_sha256: str = Field(
        description="SHA-256 of the answers (question and option slugs) as canonical JSON."
    )
    context: list[Answer]
    decision: str
    parts: list[Part]
    assumptions: list[Answer]
    consequences: list[str] = Field(
        description="Warnings the answers raise and known limits of what was chosen."
    )
    sources: list[Source]


def answers_hash(report: Report) -> str:
    """A fingerprint of the answers: the same answers give the same hash in any order."""
    canonical = json.dumps(
        {question: sorted(options) for question, options in report.answer_map().items()},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def record(report: Report, permalink: str) -> DecisionRecord:
    """The decision record of a report issued with designs in parts (result format 2)."""
    result = report.result
    parts = [
        Part(
            name=part["name"],
            flow=(part["flow"] or {}).get("slug"),
            layers=[Layer(**layer) for layer in part["layers"]],
            why=part["why"],
            margin=part["margin"],
            close_call=part["close_call"],
            alternatives=_alternatives(part),
            post_quantum=_urgency(part),
        )
        for part in result["parts"]
    ]
    return DecisionRecord(
        format=RECORD_FORMAT,
        title=report.title or f"Protection of data in transit: {report.primary_name}",
        status="accepted as issued",
        issued=report.created_at.isoformat(),
        report=permalink,
        knowledge_base_version=report.knowledge_base_version,
        answers_sha256=answers_hash(report),
        context=[
            Answer(
                question=row["question"],
                question_title=row["question_title"],
                options=[option["label"] for option in row["options"]],
            )
            for row in report.answers
        ],
        decision=result["summary"],
        parts=parts,
        assumptions=[
            Answer(question=row["question"], question_title=row["question_title"], options=[row["text"]])
            for row in result["assumptions"]
        ],
        consequences=_consequences(result),
        sources=_sources(result),
    )


def _alternatives(part: dict) -> list[Alternative]:
    alternatives = []
    if part["runner_up"]:
        alternatives.append(
            Alternative(
                protocol=Protocol(**part["runner_up"]),
                status="runner-up",
                why_not=[f"Meets every requirement but scores {part['margin']:.1f} points lower."],
            )
        )
    reasons: dict[str, dict] = {}
    for row in part["excluded"]:
        entry = reasons.setdefault(row["protocol"]["slug"], {"protocol": row["protocol"], "why_not": []})
        entry["why_not"].append(f"“{row['option_label']}”: {row['reason']}")
    alternatives += [
        Alternative(protocol=Protocol(**entry["protocol"]), status="ruled out", why_not=entry["why_not"])
        for entry in reasons.values()
    ]
    return alternatives


def _urgency(part: dict) -> str | None:
    urgency = (part.get("post_quantum") or {}).get("urgency")
    return f"{urgency['title'][:1].upper()}{urgency['title'][1:]}: {urgency['text']}" if urgency else None


def _consequences(result: dict) -> list[str]:
    consequences = [
        f"{warning['severity'].capitalize()}: {warning['message']}" for warning in result["warnings"]
    ]
    for part in result["parts"]:
        for facts in part["protocols"]:
            consequences += [f"{facts['protocol']['name']}: {line}" for line in facts["limitations"]]
    return list(dict.fromkeys(consequences))


def _sources(result: dict) -> list[Source]:
    """Every reference the report cites, with the sections its guidance items point at."""
    sections: dict[str, list[str]] = {}
    items = [item for part in result["parts"] for item in part["guidance"]] + list(result["guidance"])
    items += [
        item
        for part in result["parts"]
        for item in [*part["post_quantum"]["mechanisms"], part["post_quantum"]["urgency"]]
        if item
    ]
    for item in items:
        for source in item["sources"]:
            if source["section"]:
                sections.setdefault(source["identifier"], []).append(source["section"])
    return [
        Source(
            identifier=ref["identifier"],
            title=ref["title"],
            url=ref["url"],
            sections=list(dict.fromkeys(sections.get(ref["identifier"], []))),
        )
        for ref in result["references"]
    ]


def schema_json() -> str:
    """The JSON Schema of decision.json, shipped beside it so tools can validate it offline."""
    return json.dumps(DecisionRecord.model_json_schema(), indent=2) + "\n"


def as_json(decision: DecisionRecord) -> str:
    return decision.model_dump_json(indent=2) + "\n"


def as_markdown(decision: DecisionRecord) -> str:
    """The record for people: the sections of an architecture decision record, in plain Markdown."""
    return render_to_string(
        "advisor/decision_record.md", {"record": decision, "close_call_margin": engine.CLOSE_CALL}
    )


def filename(report: Report, extension: str) -> str:
    subject = slugify(report.title) or slugify(report.primary_name)
    return f"decision-record-{subject}-{report.created_at:%Y-%m-%d}.{extension}"
