"""Issuing reports, re-evaluating them, and everything the report page and PDF show.

A report is a snapshot: it is built from the engine's output and the
knowledge base at one version, stored whole, and rendered later from what was
stored, never from the live knowledge base.
"""

from __future__ import annotations

from dataclasses import dataclass

from advisor import engine
from advisor.models import Assessment, Report, SourceDisagreement

PALETTE = (
    "#0b5cad",
    "#2f8f5b",
    "#c2571a",
    "#7b4fb3",
    "#b3263e",
    "#1f8a99",
    "#8a6d0b",
    "#4d5b6b",
    "#d17fb0",
    "#5a9e2f",
    "#9c4a2e",
    "#3c6fd6",
    "#a1892e",
    "#6b3f6f",
    "#2e7d74",
)
"""One colour per criterion, in criterion order; neighbours differ in hue and lightness."""


def issue(
    kb: engine.KnowledgeBase,
    answers: engine.Answers,
    *,
    assessment: Assessment | None = None,
    title: str = "",
    organisation: str = "",
    previous: Report | None = None,
    save: bool = True,
) -> Report:
    """Freeze a recommendation with the answers worded as the user saw them now."""
    result = engine.recommend(kb, answers)
    data = engine.as_dict(kb, result)
    disagreements = [
        {
            "topic": row.topic,
            "summary": row.summary,
            "references": [
                {"identifier": ref.identifier, "title": ref.title, "url": ref.url}
                for ref in row.references.all()
            ],
        }
        for row in SourceDisagreement.objects.prefetch_related("references", "protocols", "flows")
        if _bears_on_design(row, result)
    ]
    report = Report(
        assessment=assessment,
        previous=previous,
        title=title.strip(),
        organisation=organisation.strip(),
        knowledge_base_version=kb.version,
        answers=[
            {
                "question": slug,
                "question_title": kb.question(slug).title,
                "question_text": kb.question(slug).text,
                "options": [{"slug": o, "label": kb.question(slug).option(o).label} for o in options],
            }
            for slug, options in result.answers.items()
        ],
        result=data,
        disagreements=disagreements,
    )
    if save:
        report.save()
    return report


def _bears_on_design(row: SourceDisagreement, result: engine.Recommendation) -> bool:
    """A disagreement matters when a part uses one of its protocols for one of its flows (or any flow)."""
    protocols = {protocol.slug for protocol in row.protocols.all()}
    flows = {flow.slug for flow in row.flows.all()}
    return any(
        not protocols.isdisjoint(part.protocols) and (not flows or part.flow in flows)
        for part in result.parts
    )


@dataclass(frozen=True)
class Bar:
    """One protocol's row in the contribution chart: its segments, left to right."""

    rank: int
    name: str
    total: float
    y: float
    end: float
    segments: tuple[dict, ...]


CHART_WIDTH, LABEL_WIDTH, ROW_HEIGHT, BAR_HEIGHT = 640, 220, 30, 18


def chart(result: dict) -> dict:
    """Geometry of a horizontal stacked bar chart: each protocol's score split by criterion."""
    scale = (CHART_WIDTH - LABEL_WIDTH - 50) / 100
    criteria = [c["criterion"] for c in result["ranking"][0]["contributions"]] if result["ranking"] else []
    colours = {slug: PALETTE[i % len(PALETTE)] for i, slug in enumerate(criteria)}
    bars = []
    for index, row in enumerate(result["ranking"]):
        x = LABEL_WIDTH
        segments = []
        for part in row["contributions"]:
            width = part["points"] * scale
            if width > 0:
                segments.append(
                    {
                        "x": round(x, 2),
                        "width": round(width, 2),
                        "colour": colours[part["criterion"]],
                        "label": f"{part['criterion_name']}: {part['points']:.1f} points",
                    }
                )
            x += width
        bars.append(
            Bar(
                row["rank"], row["protocol"]["name"], row["total"], index * ROW_HEIGHT, x + 6, tuple(segments)
            )
        )
    legend = [
        {"name": c["criterion_name"], "colour": colours[c["criterion"]]}
        for c in (result["ranking"][0]["contributions"] if result["ranking"] else [])
        if any(
            part["points"] > 0
            for row in result["ranking"]
            for part in row["contributions"]
            if part["criterion"] == c["criterion"]
        )
    ]
    return {
        "width": CHART_WIDTH,
        "height": len(bars) * ROW_HEIGHT + 10,
        "label_width": LABEL_WIDTH,
        "bar_height": BAR_HEIGHT,
        "text_offset": BAR_HEIGHT - 4,
        "bars": bars,
        "legend": legend,
        "scale": scale,
    }


def references(report: Report) -> list[dict]:
    """Every source the report cites, once, sorted by identifier."""
    found: dict[str, dict] = {}
    result = report.result
    for ref in result.get("references", ()):
        found.setdefault(ref["identifier"], ref)
    for guide in result["guidance"]:
        for ref in guide.get("references", guide.get("sources", ())):
            found.setdefault(ref["identifier"], ref)
    for warning in result["warnings"]:
        for ref in warning["references"]:
            found.setdefault(ref["identifier"], ref)
    for row in report.disagreements:
        for ref in row["references"]:
            found.setdefault(ref["identifier"], ref)
    return [found[key] for key in sorted(found)]


def context(report: Report, permalink: str) -> dict:
    """What the report body template needs, for the page and the PDF alike.

    Reports issued before designs had parts (result format 1) keep their own
    template, so an old report renders exactly as it was issued.
    """
    result = report.result
    common = {"report": report, "result": result, "references": references(report), "permalink": permalink}
    if result.get("format", 1) == 1:
        return {
            **common,
            "body_template": "advisor/_report_body_v1.html",
            "chart": chart(result),
            "deciding": _deciding(result["weights"]),
            "close_call": result["margin"] is not None and result["margin"] < engine.CLOSE_CALL,
        }
    parts = [
        {**part, "chart": chart(part), "deciding": _deciding(part["weights"]), "number": number}
        for number, part in enumerate(result["parts"], start=1)
    ]
    return {**common, "body_template": "advisor/_report_body.html", "parts": parts}


def _deciding(weights: list[dict]) -> list[dict]:
    return sorted((row for row in weights if row["from_answers"]), key=lambda row: -row["weight"])


def _first_ranking(result: dict) -> list[dict]:
    """The ranking a diff compares: a format-1 report's, or the first part's."""
    return result["parts"][0]["ranking"] if "parts" in result else result["ranking"]


def _excluded(result: dict) -> list[dict]:
    return result["parts"][0]["excluded"] if "parts" in result else result["excluded"]


def diff(old: Report, new: Report) -> dict:
    """What changed between a report and its re-evaluation: leader, scores and ranks, warnings."""
    old_ranking, new_ranking = _first_ranking(old.result), _first_ranking(new.result)
    old_rows = {row["protocol"]["slug"]: row for row in old_ranking}
    new_rows = {row["protocol"]["slug"]: row for row in new_ranking}
    names = {row["protocol"]["slug"]: row["protocol"]["name"] for row in old_ranking + new_ranking}
    for row in _excluded(old.result) + _excluded(new.result):
        names.setdefault(row["protocol"]["slug"], row["protocol"]["name"])
    rows = []
    for slug in dict.fromkeys([*new_rows, *old_rows, *names]):
        before, after = old_rows.get(slug), new_rows.get(slug)
        rows.append(
            {
                "name": names[slug],
                "old_rank": before["rank"] if before else None,
                "new_rank": after["rank"] if after else None,
                "old_total": before["total"] if before else None,
                "new_total": after["total"] if after else None,
                "delta": round(after["total"] - before["total"], 2) if before and after else None,
            }
        )
    old_warnings = {w["rule"]: w for w in old.result["warnings"]}
    new_warnings = {w["rule"]: w for w in new.result["warnings"]}
    return {
        "leader_changed": old.primary_name != new.primary_name,
        "rows": rows,
        "warnings_added": [w for rule, w in new_warnings.items() if rule not in old_warnings],
        "warnings_removed": [w for rule, w in old_warnings.items() if rule not in new_warnings],
    }
