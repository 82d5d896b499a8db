"""JSON API, version 1: the questions, the use-case profiles, and recommendations.

Request bodies are validated by django-ninja (pydantic) for shape and type,
then by the engine for meaning (known questions and options, conditions,
required answers). Every problem comes back as a 400 with messages per field.
"""

from __future__ import annotations

import hashlib
import json
from uuid import UUID

from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import NinjaAPI, Schema, Status
from ninja.errors import HttpError, ValidationError
from pydantic import ConfigDict, Field

from advisor import bundle, decision, engine, knowledge, tasks
from advisor.limits import ApiThrottle
from advisor.models import Report

api = NinjaAPI(
    title="Protocol Advisor API",
    version="1",
    description="Questions, use-case profiles and explainable recommendations for protecting data in transit.",
    urls_namespace="api",
    docs_url=None,
    throttle=ApiThrottle(),
)


class ErrorOut(Schema):
    detail: str
    errors: dict[str, list[str]] = {}


class OptionOut(Schema):
    slug: str
    label: str
    help_text: str
    is_unknown: bool
    flow: str | None = Field(description="The flow this option adds to the design, if any.")
    applies_to: list[str] = Field(description="The flows this answer bears on; empty for all of them.")


class ConditionOut(Schema):
    question: str
    option: str


class QuestionOut(Schema):
    slug: str
    order: int
    title: str
    text: str
    help_text: str
    kind: str
    required: bool
    shown_when_any: list[ConditionOut] = Field(description="Asked only when one of these answers was given.")
    assumption: str = Field(description="What the advice assumes when this is left open.")
    options: list[OptionOut]


class ProfileOut(Schema):
    slug: str
    name: str
    description: str
    expected_protocol: str
    expected_rationale: str
    answers: dict[str, list[str]]


class AnswersIn(Schema):
    model_config = ConfigDict(extra="forbid")

    answers: dict[str, list[str]] = Field(
        description="Question slug to the slugs of the chosen options; a single-choice question takes one.",
        examples=[{"scope": ["site-link", "public-service"], "path": ["nat", "udp-open"]}],
    )


class ProtocolRef(Schema):
    slug: str
    name: str


class ReferenceOut(Schema):
    slug: str
    identifier: str
    title: str
    publisher: str
    year: int
    url: str


class AnswerRef(Schema):
    question: str
    question_title: str
    option: str
    option_label: str


class ContributionOut(Schema):
    criterion: str
    criterion_name: str
    weight: int
    rating: int
    points: float = Field(description="This criterion's share of the 0-100 total.")


class RankedOut(Schema):
    rank: int
    protocol: ProtocolRef
    total: float = Field(
        description="0 to 100: the weighted mean of the ratings, 100 for 5 on every criterion."
    )
    contributions: list[ContributionOut]


class ExclusionOut(AnswerRef):
    protocol: ProtocolRef
    kind: str = Field(description="'exclude', or 'require' when an answer demands other protocols.")
    reason: str


class WeightSourceOut(AnswerRef):
    weight: int


class WeightOut(Schema):
    criterion: str
    criterion_name: str
    weight: int
    from_answers: list[WeightSourceOut]


class WeightFlipOut(Schema):
    criterion: str
    criterion_name: str
    weight: int
    flip_at: float = Field(description="The weight at which `new_leader` would come first.")
    new_leader: ProtocolRef


class AnswerChangeOut(AnswerRef):
    change: str = Field(description="'choose', 'add', 'remove' or 'swap'.")
    replaces: str | None
    flow: str | None = Field(
        description="The flow of the part that would change; null for a one-part design."
    )
    part: str = Field(description="The name of that part.")
    new_leader: ProtocolRef | None = Field(description="The part's new protocol (outer layer when layered).")
    new_inner: ProtocolRef | None = Field(description="A layered part's new inner layer.")
    settles_open_question: bool = Field(description="The question was left open or answered “I don't know”.")
    cost: int = Field(description="How hard the change is in practice, 0 (describes the case) to 5.")
    sentence: str


class WarningOut(Schema):
    rule: str
    severity: str
    message: str
    references: list[ReferenceOut]


class UnknownOut(Schema):
    question: str
    question_title: str


class AssumptionOut(UnknownOut):
    text: str = Field(description="What the advice assumes for this open question.")


class CitedOut(ReferenceOut):
    section: str = Field(description="The section, requirement or clause the item rests on.")


class GuidanceItemOut(Schema):
    slug: str
    kind: str = Field(
        description="'configuration', 'checklist', 'pitfall', or for post-quantum readiness 'quantum' "
        "(a mechanism) and 'urgency'."
    )
    title: str
    text: str
    sources: list[CitedOut]


class ProtocolFactsOut(Schema):
    protocol: ProtocolRef
    summary: str
    ports: str
    strengths: list[str]
    limitations: list[str]
    references: list[ReferenceOut]


class FlowRef(Schema):
    slug: str
    name: str


class LayerOut(Schema):
    role: str = Field(description="'single', or 'outer' and 'inner' for a layered part.")
    protocol: ProtocolRef
    mode: str = Field(description="How the protocol is run for these answers.")


class PostQuantumOut(Schema):
    mechanisms: list[GuidanceItemOut] = Field(
        description="How each of the part's protocols resists harvest-now-decrypt-later, with versions."
    )
    urgency: GuidanceItemOut | None = Field(description="How soon it matters for these answers.")


class SettingOut(Schema):
    values: list[str] = Field(description="One value per line, in the configured program's own syntax.")
    sources: list[CitedOut]


class PartOut(Schema):
    flow: FlowRef | None = Field(description="The flow this part protects; null when the answers name none.")
    name: str
    primary: ProtocolRef | None = Field(
        description="The part's protocol (outer layer when layered); null when nothing meets every requirement."
    )
    layers: list[LayerOut]
    runner_up: ProtocolRef | None = Field(
        description="The best alternative that meets every hard requirement."
    )
    margin: float | None = Field(description="Points between the primary and the runner-up.")
    close_call: bool
    tie: bool
    why: list[str] = Field(description="Why this part gets its protocol, in sentences.")
    conflict: str | None = Field(description="When nothing meets every requirement: which answers clash.")
    layered_by: list[AnswerRef]
    ranking: list[RankedOut]
    excluded: list[ExclusionOut]
    weights: list[WeightOut]
    sensitivity: list[WeightFlipOut]
    protocols: list[ProtocolFactsOut]
    guidance: list[GuidanceItemOut] = Field(description="Guidance chosen by the answers for this part.")
    post_quantum: PostQuantumOut
    settings: dict[str, dict[str, SettingOut]] = Field(
        description="Per protocol, the configuration values these answers select (proposals, suites, ports)."
    )


class RecommendationOut(Schema):
    format: int = Field(description="Version of this shape.")
    knowledge_base_version: int
    kind: str = Field(
        description="'single' (one part), 'parts' (several flows) or 'layered' (two layers somewhere)."
    )
    summary: str = Field(description="The decision in a sentence or two.")
    primary: ProtocolRef | None = Field(description="The first part's protocol, for one-part designs.")
    parts: list[PartOut]
    answer_changes: list[AnswerChangeOut] = Field(
        description="At most five, cheapest and most realistic first."
    )
    warnings: list[WarningOut]
    answers: list[AnswerRef]
    ignored_answers: list[AnswerRef]
    unknown: list[UnknownOut]
    assumptions: list[AssumptionOut]
    guidance: list[GuidanceItemOut] = Field(description="Guidance for the whole design.")
    references: list[ReferenceOut] = Field(description="Every source the recommendation cites.")


def _error(request: HttpRequest, detail: str, errors: dict[str, list[str]]) -> HttpResponse:
    return api.create_response(request, {"detail": detail, "errors": errors}, status=400)


@api.exception_handler(ValidationError)
def invalid_shape(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "payload")]
        errors.setdefault(".".join(location) or "body", []).append(error.get("msg", "Invalid value."))
    return _error(request, "The request body does not have the expected shape.", errors)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:
        return _error(request, "The request body is not valid JSON.", {"body": [str(exc)]})
    return api.create_response(request, {"detail": str(exc), "errors": {}}, status=exc.status_code)


@api.exception_handler(RequestDataTooBig)
def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _error(request, "The request body is too large.", {"body": [str(exc)]})


@api.get("/questions", response=list[QuestionOut], summary="The questions, in order, with their options")
def questions(request: HttpRequest):
    kb = knowledge.current()
    return [
        {
            **engine.dataclass_dict(question),
            "shown_when_any": [{"question": q, "option": o} for q, o in sorted(question.condition)],
            "options": [
                {**engine.dataclass_dict(option), "applies_to": sorted(option.applies_to)}
                for option in question.options
            ],
        }
        for question in kb.questions
    ]


@api.get("/profiles", response=list[ProfileOut], summary="Typical use cases with preset answers")
def profiles(request: HttpRequest):
    return [
        {**engine.dataclass_dict(profile), "answers": {q: list(o) for q, o in profile.answers.items()}}
        for profile in knowledge.current().profiles
    ]


@api.post(
    "/recommendations",
    response={200: RecommendationOut, 400: ErrorOut},
    summary="Design the protection for a set of answers, part by part, and explain it",
)
def recommendations(request: HttpRequest, payload: AnswersIn):
    kb = knowledge.current()
    answers = {question: tuple(options) for question, options in payload.answers.items()}
    errors = engine.validate(kb, answers)
    if errors:
        return Status(
            400,
            {
                "detail": "Some answers are not valid.",
                "errors": {f"answers.{slug}": [message] for slug, message in errors.items()},
            },
        )
    return HttpResponse(recommendation_json(kb, answers), content_type="application/json")


def recommendation_json(kb: engine.KnowledgeBase, answers: engine.Answers) -> bytes:
    """The recommendation as JSON, cached per knowledge-base version and answers.

    Results are deterministic, so a repeated request (a review page reloaded,
    a shared link) is served from the cache; an edit moves the version and
    with it every key. The body is written once and sent as is, not re-validated.
    """
    canonical = json.dumps(sorted((question, list(options)) for question, options in answers.items()))
    key = f"recommendation:{kb.version}:{hashlib.sha256(canonical.encode()).hexdigest()}"
    body = cache.get(key)
    if body is None:
        body = json.dumps(engine.as_dict(kb, engine.recommend(kb, answers)), ensure_ascii=False).encode()
        cache.set(key, body, timeout=24 * 3600)
    return body


@api.get(
    "/reports/{report_id}/decision-record",
    response={200: decision.DecisionRecord, 404: ErrorOut},
    summary="The decision record of a stored report, built from its snapshot",
)
def decision_record(request: HttpRequest, report_id: UUID):
    issued = Report.objects.filter(id=report_id).first()
    if issued is None or "parts" not in issued.result:
        return Status(404, {"detail": "No report with a decision record has this id.", "errors": {}})
    permalink = request.build_absolute_uri(reverse("advisor:report", args=[issued.id]))
    return decision.record(issued, permalink)


@api.get(
    "/reports/{report_id}/bundle",
    response={404: ErrorOut},
    summary="The deployment bundle of a stored report: PDF, decision record and configurations (zip)",
    openapi_extra={
        "responses": {
            "200": {
                "description": "A zip archive, built from the report's snapshot.",
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def report_bundle(request: HttpRequest, report_id: UUID):
    issued = Report.objects.filter(id=report_id).first()
    if issued is None or not bundle.has_bundle(issued):
        return Status(404, {"detail": "No report with a bundle has this id.", "errors": {}})
    permalink = request.build_absolute_uri(reverse("advisor:report", args=[issued.id]))
    response = HttpResponse(
        bundle.archive(issued, permalink, tasks.pdf_bytes(issued, permalink)),
        content_type="application/zip",
    )
    response["Content-Disposition"] = f'attachment; filename="{bundle.filename(issued)}"'
    return response
