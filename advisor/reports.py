"""Issuing reports, re-evaluating them, and everything the report page and PDF show.

A report is a snapshot: it is built from the engine's output and the
knowledge base at one version, stored whole, and rendered later from what was
stored, never from the live knowledge base.
"""

from __future__ import annotations

from django.template.defaultfilters import date as date_filter
from django.utils import timezone

from advisor import engine
from advisor.models import Assessment, Report, SourceDisagreement


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


DECIDERS_SHOWN = 4
"""Criteria shown in a part's chart: enough to explain a ranking, few enough to read at a glance."""


def chart(result: dict) -> dict:
    """What decides a ranking: the criteria where the pick and the runner-up differ most, in points.

    Each row names the criterion and both protocols with their points, so the chart reads in greyscale
    and on a phone without a colour legend. Bar lengths are percentages of the largest value shown.
    With a single eligible protocol, its strongest criteria are shown instead. `table` holds every
    criterion's points for every ranked protocol, for the full table below the chart.
    """
    ranking = result["ranking"]
    if not ranking:
        return {"pick": None, "runner_up": None, "rows": [], "table": []}
    pick = ranking[0]
    runner_up = ranking[1] if len(ranking) > 1 else None
    rival = {c["criterion"]: c["points"] for c in runner_up["contributions"]} if runner_up else {}
    differences = [
        {
            "name": c["criterion_name"],
            "pick_points": c["points"],
            "runner_up_points": rival.get(c["criterion"], 0.0),
            "difference": round(c["points"] - rival.get(c["criterion"], 0.0), 2),
            "gap": round(abs(c["points"] - rival.get(c["criterion"], 0.0)), 2),
        }
        for c in pick["contributions"]
    ]
    if runner_up:
        differences.sort(key=lambda row: -abs(row["difference"]))
        shown = [row for row in differences if row["difference"]][:DECIDERS_SHOWN]
    else:
        differences.sort(key=lambda row: -row["pick_points"])
        shown = [row for row in differences if row["pick_points"]][:DECIDERS_SHOWN]
    longest = max((max(row["pick_points"], row["runner_up_points"]) for row in shown), default=0) or 1
    for row in shown:
        row["pick_length"] = round(100 * row["pick_points"] / longest, 1)
        row["runner_up_length"] = round(100 * row["runner_up_points"] / longest, 1)
    points = {
        row["protocol"]["slug"]: {c["criterion"]: c["points"] for c in row["contributions"]}
        for row in ranking
    }
    table = [
        {
            "name": c["criterion_name"],
            "points": [points[row["protocol"]["slug"]].get(c["criterion"], 0.0) for row in ranking],
        }
        for c in pick["contributions"]
    ]
    return {
        "pick": pick["protocol"]["name"],
        "runner_up": runner_up["protocol"]["name"] if runner_up else None,
        "rows": shown,
        "table": table,
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


ISSUED_FORMAT = "j F Y, H:i e"
"""The one way a report's date is written: cover, running footer and appendix alike."""


def issued(report: Report) -> str:
    return date_filter(timezone.localtime(report.created_at), ISSUED_FORMAT)


def permalink_lines(permalink: str) -> list[str]:
    """The permalink in pieces that end at a slash, so a line may break after a slash and nowhere else.

    The report's id is one piece: it never splits across lines, and text copied from a PDF keeps it whole.
    """
    pieces = permalink.split("/")
    return [piece + "/" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])


def context(report: Report, permalink: str) -> dict:
    """What the report body template needs, for the page and the PDF alike.

    Reports issued before designs had parts (result format 1) keep their own
    template, so an old report renders exactly as it was issued.
    """
    result = report.result
    common = {
        "report": report,
        "result": result,
        "references": references(report),
        "permalink": permalink,
        "permalink_lines": permalink_lines(permalink),
        "issued": issued(report),
    }
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
