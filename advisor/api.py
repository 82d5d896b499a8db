"""JSON API, version 1: the questions, the use-case profiles, and recommendations.

Request bodies are validated by django-ninja (pydantic) for shape and type,
then by the engine for meaning (known questions and options, conditions,
required answers). Every problem comes back as a 400 with messages per field.
"""

from __future__ import annotations

import hashlib
import json

from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema, Status
from ninja.errors import HttpError, ValidationError
from pydantic import ConfigDict, Field

from advisor import engine, knowledge

api = NinjaAPI(
    title="Protocol Advisor API",
    version="1",
    description="Questions, use-case profiles and explainable recommendations for protecting data in transit.",
    urls_namespace="api",
    docs_url=None,
)


class ErrorOut(Schema):
    detail: str
    errors: dict[str, list[str]] = {}


class OptionOut(Schema):
    slug: str
    label: str
    help_text: str
    is_unknown: bool


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
        examples=[{"scope": ["between-sites"], "path": ["nat", "udp-open"]}],
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
    new_leader: ProtocolRef | None
    sentence: str


class LayeringOut(Schema):
    network: ProtocolRef
    application: ProtocolRef
    reason: str


class WarningOut(Schema):
    rule: str
    severity: str
    message: str
    references: list[ReferenceOut]


class UnknownOut(Schema):
    question: str
    question_title: str


class GuidanceOut(Schema):
    protocol: ProtocolRef
    summary: str
    configuration: list[str]
    ports: str
    strengths: list[str]
    limitations: list[str]
    references: list[ReferenceOut]


class RecommendationOut(Schema):
    primary: ProtocolRef | None = Field(
        description="The recommended protocol; null when constraints exclude all."
    )
    runner_up: ProtocolRef | None
    margin: float | None = Field(description="Points between the primary and the runner-up.")
    knowledge_base_version: int
    layering: LayeringOut | None
    ranking: list[RankedOut]
    excluded: list[ExclusionOut]
    weights: list[WeightOut]
    sensitivity: list[WeightFlipOut]
    answer_changes: list[AnswerChangeOut]
    warnings: list[WarningOut]
    answers: list[AnswerRef]
    ignored_answers: list[AnswerRef]
    unknown: list[UnknownOut]
    guidance: list[GuidanceOut]


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
            "options": [engine.dataclass_dict(option) for option in question.options],
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
    summary="Rank every protocol for a set of answers and explain the result",
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
