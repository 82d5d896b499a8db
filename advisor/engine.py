"""The recommendation engine: pure Python over an immutable snapshot of the knowledge base.

No ORM, request or settings in here. Given a `KnowledgeBase` and the answers
(question slug -> chosen option slugs), `recommend` scores every protocol on a
0-100 scale, keeps the contribution of every criterion so the result can be
explained, applies hard constraints, and computes what would change the answer.

Scoring, in one line: each criterion's weight is its base weight plus the
weights that chosen options add; a protocol's score is the weighted mean of its
ratings, scaled so that a protocol rated 5 everywhere scores 100. Ties go to
the protocol listed first in the knowledge base.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import partial
from types import MappingProxyType

RATING_MAX = 5
SINGLE = "single"
WEIGHT, EXCLUDE, REQUIRE = "weight", "exclude", "require"
LAYERED, TLS_FAMILY, NETWORK_LAYER = "layered", "tls", "network"

Answers = Mapping[str, tuple[str, ...]]


# --- The knowledge base snapshot ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reference:
    slug: str
    identifier: str
    title: str
    publisher: str
    year: int
    url: str


@dataclass(frozen=True, slots=True)
class Protocol:
    slug: str
    name: str
    family: str
    layer: str
    order: int
    summary: str
    strengths: tuple[str, ...]
    limitations: tuple[str, ...]
    guidance: tuple[str, ...]
    ports: str
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Criterion:
    slug: str
    name: str
    description: str
    base_weight: int
    order: int


@dataclass(frozen=True, slots=True)
class Rating:
    protocol: str
    criterion: str
    score: int
    rationale: str
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Effect:
    kind: str
    criterion: str | None = None
    weight: int = 0
    protocol: str | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Option:
    slug: str
    label: str
    is_unknown: bool
    effects: tuple[Effect, ...]
    help_text: str = ""


@dataclass(frozen=True, slots=True)
class Question:
    slug: str
    order: int
    title: str
    text: str
    help_text: str
    kind: str
    required: bool
    options: tuple[Option, ...]
    condition: frozenset[tuple[str, str]] = frozenset()
    """(question slug, option slug) pairs; the question is asked when any of them was chosen."""

    def option(self, slug: str) -> Option | None:
        return next((option for option in self.options if option.slug == slug), None)


@dataclass(frozen=True, slots=True)
class Profile:
    slug: str
    name: str
    description: str
    expected_protocol: str
    expected_rationale: str
    answers: Mapping[str, tuple[str, ...]]
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    """A consistency check: warn when all of `when_all` are chosen and none of `unless_any`."""

    slug: str
    message: str
    severity: str
    when_all: frozenset[tuple[str, str]]
    unless_any: frozenset[tuple[str, str]]
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _OptionEffects:
    """What one option does to the ranking, precomputed: points for every protocol, packed, and exclusions."""

    points: int
    excludes: frozenset[str]


@dataclass(frozen=True)
class KnowledgeBase:
    version: int
    protocols: tuple[Protocol, ...]
    criteria: tuple[Criterion, ...]
    ratings: Mapping[tuple[str, str], Rating]
    questions: tuple[Question, ...]
    profiles: tuple[Profile, ...]
    references: Mapping[str, Reference]
    rules: tuple[Rule, ...] = ()
    _field_bits: int = field(init=False, repr=False, compare=False)
    _base_points: int = field(init=False, repr=False, compare=False)
    _options: Mapping[tuple[str, str], _OptionEffects] = field(init=False, repr=False, compare=False)
    _questions: Mapping[str, Question] = field(init=False, repr=False, compare=False)
    _protocols: Mapping[str, Protocol] = field(init=False, repr=False, compare=False)
    _openers: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Precompute lookups and the points that base weights and each option add.

        Ranking alternatives (what would change the answer) means summing the
        points of a dozen options for every protocol, dozens of times per
        recommendation. Each option's points for all protocols are therefore
        packed into one integer, a fixed-width field per protocol wide enough
        for the largest possible total, so adding an option is one addition.
        A missing rating counts 0 here, so that an incomplete knowledge base
        still builds and `integrity_problems` can say what is missing.
        """
        setup = partial(object.__setattr__, self)
        most_weight = sum(c.base_weight for c in self.criteria) + sum(
            e.weight for q in self.questions for o in q.options for e in o.effects if e.kind == WEIGHT
        )
        setup("_field_bits", (RATING_MAX * most_weight).bit_length() + 1)
        setup(
            "_base_points",
            self._pack(
                sum(c.base_weight * _score_or_zero(self.ratings, p.slug, c.slug) for c in self.criteria)
                for p in self.protocols
            ),
        )
        every_protocol = frozenset(p.slug for p in self.protocols)
        options = {}
        for question in self.questions:
            for option in question.options:
                weights = [e for e in option.effects if e.kind == WEIGHT]
                excludes = {e.protocol for e in option.effects if e.kind == EXCLUDE}
                required = {e.protocol for e in option.effects if e.kind == REQUIRE}
                if required:
                    excludes |= every_protocol - required
                options[question.slug, option.slug] = _OptionEffects(
                    self._pack(
                        sum(e.weight * _score_or_zero(self.ratings, p.slug, e.criterion) for e in weights)
                        for p in self.protocols
                    ),
                    frozenset(excludes),
                )
        setup("_options", MappingProxyType(options))
        setup("_questions", MappingProxyType({q.slug: q for q in self.questions}))
        setup("_protocols", MappingProxyType({p.slug: p for p in self.protocols}))
        setup("_openers", frozenset(slug for q in self.questions for slug, _ in q.condition))

    def _pack(self, values) -> int:
        return sum(value << (i * self._field_bits) for i, value in enumerate(values))

    def _unpack(self, packed: int) -> list[int]:
        mask = (1 << self._field_bits) - 1
        return [(packed >> (i * self._field_bits)) & mask for i in range(len(self.protocols))]

    def question(self, slug: str) -> Question | None:
        return self._questions.get(slug)

    def protocol(self, slug: str) -> Protocol:
        return self._protocols[slug]

    def profile(self, slug: str) -> Profile | None:
        return next((profile for profile in self.profiles if profile.slug == slug), None)


# --- Answers ----------------------------------------------------------------------------------


class InvalidAnswers(ValueError):
    """Answers that name unknown questions or options, or break a question's rules."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{key}: {message}" for key, message in errors.items()))
        self.errors = dict(errors)


def visible_questions(kb: KnowledgeBase, answers: Answers) -> tuple[Question, ...]:
    """The questions asked, in order: a conditional one only after an answer that opens it.

    Conditions only look back, so one pass in order decides; an answer to a
    question that is not asked cannot open another.
    """
    chosen: set[tuple[str, str]] = set()
    visible = []
    for question in kb.questions:
        if question.condition and question.condition.isdisjoint(chosen):
            continue
        visible.append(question)
        if question.slug in kb._openers:
            chosen.update((question.slug, option) for option in answers.get(question.slug, ()))
    return tuple(visible)


def answer_errors(kb: KnowledgeBase, answers: Answers) -> dict[str, str]:
    """Answers that cannot mean anything: unknown questions or options, or too many for a question."""
    errors: dict[str, str] = {}
    for slug, options in answers.items():
        question = kb.question(slug)
        if question is None:
            errors[slug] = "There is no such question."
            continue
        if not options:
            errors[slug] = "Choose at least one option."
            continue
        unknown = [option for option in options if question.option(option) is None]
        if unknown:
            errors[slug] = f"Not an option of this question: {', '.join(unknown)}."
        elif len(set(options)) != len(options):
            errors[slug] = "An option is chosen twice."
        elif question.kind == SINGLE and len(options) > 1:
            errors[slug] = "This question takes a single answer."
        elif len(options) > 1 and any(question.option(option).is_unknown for option in options):
            errors[slug] = "“I don't know” cannot be combined with other answers."
    return errors


def validate(kb: KnowledgeBase, answers: Answers, *, complete: bool = True) -> dict[str, str]:
    """Field-level problems with `answers`, keyed by question slug; empty when they are valid.

    Beyond `answer_errors`: no answer to a question that is not asked, and with
    `complete`, an answer to every required question that is asked.
    """
    errors = answer_errors(kb, answers)
    if errors:
        return errors
    visible = visible_questions(kb, answers)
    asked = {question.slug for question in visible}
    for slug in answers:
        if slug not in asked:
            errors[slug] = "This question is not asked after your other answers."
    if complete:
        for question in visible:
            if question.required and question.slug not in answers:
                errors[question.slug] = "This question needs an answer."
    return errors


# --- The recommendation -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contribution:
    criterion: str
    weight: int
    rating: int
    points: float
    """This criterion's share of the protocol's 0-100 total."""


@dataclass(frozen=True, slots=True)
class Score:
    protocol: str
    total: float
    contributions: tuple[Contribution, ...]


@dataclass(frozen=True, slots=True)
class Exclusion:
    protocol: str
    question: str
    option: str
    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class WeightSource:
    """Why a criterion weighs what it does: its base weight, or an answer that added to it."""

    criterion: str
    weight: int
    question: str | None = None
    option: str | None = None


@dataclass(frozen=True, slots=True)
class WeightFlip:
    """How far one criterion's weight would have to move for another protocol to come first."""

    criterion: str
    weight: int
    flip_at: float
    new_leader: str


@dataclass(frozen=True, slots=True)
class AnswerChange:
    """A different answer that would put another protocol first."""

    question: str
    change: str
    """'choose' (the answer becomes `option`), or for multiple choice 'add', 'remove' or 'swap'."""
    option: str
    new_leader: str | None
    """None when the change would leave no protocol standing."""
    replaces: str | None = None
    """For 'swap': the chosen option that `option` takes the place of."""


@dataclass(frozen=True, slots=True)
class Layering:
    network: str
    application: str
    reason: str


@dataclass(frozen=True, slots=True)
class Warning:
    rule: str
    severity: str
    message: str
    references: tuple[str, ...]


@dataclass(frozen=True)
class Recommendation:
    knowledge_base_version: int
    answers: Mapping[str, tuple[str, ...]]
    """The answers that counted: those to questions that are asked."""
    ignored_answers: Mapping[str, tuple[str, ...]]
    """Answers to questions that the other answers no longer ask; they count for nothing."""
    unknown: tuple[str, ...]
    """Questions answered “I don't know” or left open: they widen the result."""
    weights: Mapping[str, int]
    weight_sources: tuple[WeightSource, ...]
    ranking: tuple[Score, ...]
    excluded: tuple[Exclusion, ...]
    primary: str | None
    runner_up: str | None
    margin: float | None
    layering: Layering | None
    sensitivity: tuple[WeightFlip, ...]
    answer_changes: tuple[AnswerChange, ...]
    warnings: tuple[Warning, ...]

    def score(self, protocol: str) -> Score | None:
        return next((score for score in self.ranking if score.protocol == protocol), None)


def _split_answers(
    kb: KnowledgeBase, answers: Answers
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Answers to asked questions, in question order, and answers to questions no longer asked."""
    asked = {question.slug for question in visible_questions(kb, answers)}
    counted = {q.slug: tuple(answers[q.slug]) for q in kb.questions if q.slug in asked and q.slug in answers}
    ignored = {slug: tuple(options) for slug, options in answers.items() if slug not in asked}
    return counted, ignored


def _constraints(kb: KnowledgeBase, answers: Answers) -> dict[str, list[Exclusion]]:
    excluded: dict[str, list[Exclusion]] = {}
    for question in kb.questions:
        for option_slug in answers.get(question.slug, ()):
            option = question.option(option_slug)
            required = {effect.protocol: effect for effect in option.effects if effect.kind == REQUIRE}
            for effect in option.effects:
                if effect.kind == EXCLUDE:
                    excluded.setdefault(effect.protocol, []).append(
                        Exclusion(effect.protocol, question.slug, option.slug, EXCLUDE, effect.reason)
                    )
            if required:
                reason = next(iter(required.values())).reason
                for protocol in kb.protocols:
                    if protocol.slug not in required:
                        excluded.setdefault(protocol.slug, []).append(
                            Exclusion(protocol.slug, question.slug, option.slug, REQUIRE, reason)
                        )
    return excluded


def _tally(kb: KnowledgeBase, pairs) -> tuple[int, set[str]]:
    """Every protocol's weighted rating sum (packed) and the excluded protocols, for chosen answers."""
    points = kb._base_points
    excluded: set[str] = set()
    for pair in pairs:
        effects = kb._options[pair]
        points += effects.points
        excluded |= effects.excludes
    return points, excluded


def _best(kb: KnowledgeBase, points: int, excluded: set[str]) -> str | None:
    """The leader: most weighted points (the weight total is shared), ties to the protocol listed first."""
    best: tuple[int, int, str] | None = None
    for protocol, total in zip(kb.protocols, kb._unpack(points), strict=True):
        if protocol.slug not in excluded and (best is None or (total, -protocol.order) > best[:2]):
            best = (total, -protocol.order, protocol.slug)
    return best[2] if best else None


def _leader(kb: KnowledgeBase, answers: Answers) -> str | None:
    asked = visible_questions(kb, answers)
    return _best(kb, *_tally(kb, ((q.slug, o) for q in asked for o in answers.get(q.slug, ()))))


def recommend(kb: KnowledgeBase, answers: Answers) -> Recommendation:
    """Rank every protocol for `answers` and explain the result. Missing answers widen it."""
    errors = answer_errors(kb, answers)
    if errors:
        raise InvalidAnswers(errors)
    counted, ignored = _split_answers(kb, answers)

    weights = {criterion.slug: criterion.base_weight for criterion in kb.criteria}
    sources = [WeightSource(c.slug, c.base_weight) for c in kb.criteria if c.base_weight]
    for question in kb.questions:
        for option_slug in counted.get(question.slug, ()):
            for effect in question.option(option_slug).effects:
                if effect.kind == WEIGHT:
                    weights[effect.criterion] += effect.weight
                    sources.append(WeightSource(effect.criterion, effect.weight, question.slug, option_slug))
    total_weight = sum(weights.values())

    scores = []
    for protocol in kb.protocols:
        contributions = tuple(
            Contribution(
                criterion.slug,
                weights[criterion.slug],
                kb.ratings[protocol.slug, criterion.slug].score,
                _share(
                    weights[criterion.slug] * kb.ratings[protocol.slug, criterion.slug].score, total_weight
                ),
            )
            for criterion in kb.criteria
        )
        raw_points = sum(c.weight * c.rating for c in contributions)
        scores.append(Score(protocol.slug, _share(raw_points, total_weight), contributions))

    excluded_by = _constraints(kb, counted)
    order = {protocol.slug: protocol.order for protocol in kb.protocols}
    raw = {score.protocol: sum(c.weight * c.rating for c in score.contributions) for score in scores}
    ranking = tuple(
        sorted(
            (score for score in scores if score.protocol not in excluded_by),
            key=lambda score: (-raw[score.protocol], order[score.protocol]),
        )
    )
    primary = ranking[0].protocol if ranking else None
    runner_up = ranking[1].protocol if len(ranking) > 1 else None
    margin = ranking[0].total - ranking[1].total if len(ranking) > 1 else None

    unknown = tuple(
        question.slug
        for question in visible_questions(kb, counted)
        if question.slug not in counted or all(question.option(o).is_unknown for o in counted[question.slug])
    )
    return Recommendation(
        knowledge_base_version=kb.version,
        answers=MappingProxyType(counted),
        ignored_answers=MappingProxyType(ignored),
        unknown=unknown,
        weights=MappingProxyType(weights),
        weight_sources=tuple(sources),
        ranking=ranking,
        excluded=tuple(
            exclusion for protocol in kb.protocols for exclusion in excluded_by.get(protocol.slug, ())
        ),
        primary=primary,
        runner_up=runner_up,
        margin=margin,
        layering=_layering(kb, scores, excluded_by, weights, primary, runner_up),
        sensitivity=_weight_flips(kb, ranking, weights, raw),
        answer_changes=_answer_changes(kb, counted, primary),
        warnings=_warnings(kb, counted),
    )


def _share(weighted_rating: int, total_weight: int) -> float:
    return 100.0 * weighted_rating / (RATING_MAX * total_weight) if total_weight else 0.0


def _layering(
    kb: KnowledgeBase,
    scores: list[Score],
    excluded_by: Mapping[str, list[Exclusion]],
    weights: Mapping[str, int],
    primary: str | None,
    runner_up: str | None,
) -> Layering | None:
    """When a layered design wins, name the network layer and the application layer to combine."""
    if primary is None or kb.protocol(primary).family != LAYERED:
        return None
    # Parts of the design are judged on their own merits: a "require layering" answer does not rule them out.
    usable = [
        score
        for score in sorted(scores, key=lambda score: -score.total)
        if all(exclusion.kind == REQUIRE for exclusion in excluded_by.get(score.protocol, ()))
        and kb.protocol(score.protocol).family != LAYERED
    ]
    network = next((s.protocol for s in usable if kb.protocol(s.protocol).layer == NETWORK_LAYER), None)
    application = next((s.protocol for s in usable if kb.protocol(s.protocol).family == TLS_FAMILY), None)
    if network is None or application is None:
        return None
    required = next(
        (e.reason for exclusions in excluded_by.values() for e in exclusions if e.kind == REQUIRE), None
    )
    if required:
        reason = required
    else:
        rival = runner_up or primary
        advantage = sorted(
            kb.criteria,
            key=lambda c: (
                -weights[c.slug] * (kb.ratings[primary, c.slug].score - kb.ratings[rival, c.slug].score)
            ),
        )[:2]
        reason = "The answers put most weight on " + " and ".join(c.name.lower() for c in advantage) + "."
    return Layering(network, application, reason)


def _weight_flips(
    kb: KnowledgeBase, ranking: tuple[Score, ...], weights: Mapping[str, int], raw: Mapping[str, int]
) -> tuple[WeightFlip, ...]:
    """For each criterion, the nearest weight at which another protocol would come first.

    All protocols share one weight total, so the leader `a` and a rival `b` swap
    places when raw(a) + d * r(a) = raw(b) + d * r(b): d = (raw(a) - raw(b)) / (r(b) - r(a)).
    """
    if len(ranking) < 2:
        return ()
    leader = ranking[0].protocol
    order = {protocol.slug: protocol.order for protocol in kb.protocols}
    flips = []
    for criterion in kb.criteria:
        weight = weights[criterion.slug]
        best: tuple[float, str] | None = None
        for rival in ranking[1:]:
            gap = raw[leader] - raw[rival.protocol]
            rating_gap = (
                kb.ratings[rival.protocol, criterion.slug].score - kb.ratings[leader, criterion.slug].score
            )
            if rating_gap == 0:
                continue
            delta = gap / rating_gap
            rival_wins_ties = order[rival.protocol] < order[leader]
            if rating_gap < 0 and (-delta > weight or (-delta == weight and not rival_wins_ties)):
                continue
            if best is None or abs(delta) < abs(best[0]):
                best = (delta, rival.protocol)
        if best is not None:
            flips.append(WeightFlip(criterion.slug, weight, weight + best[0], best[1]))
    return tuple(sorted(flips, key=lambda flip: (abs(flip.flip_at - flip.weight), flip.criterion)))


def _answer_changes(kb: KnowledgeBase, counted: Answers, primary: str | None) -> tuple[AnswerChange, ...]:
    """Every change of a single answer that would put another protocol first.

    A question that opens no other question changes nothing but its own
    options' points and exclusions, so most alternatives cost a few additions.
    """
    pairs = [(question, option) for question, options in counted.items() for option in options]
    totals, _ = _tally(kb, pairs)
    changes = []
    for question in visible_questions(kb, counted):
        current = counted.get(question.slug, ())
        others = totals - sum(kb._options[question.slug, option].points for option in current)
        others_excluded = set().union(
            *(kb._options[pair].excludes for pair in pairs if pair[0] != question.slug)
        )
        for change, option, replaced, new_answer in _alternatives(question, current):
            if question.slug in kb._openers:
                leader = _leader(kb, {**counted, question.slug: new_answer})
            else:
                points, excluded = others, others_excluded
                for new in new_answer:
                    effects = kb._options[question.slug, new]
                    points += effects.points
                    excluded = excluded | effects.excludes
                leader = _best(kb, points, excluded)
            if leader != primary:
                changes.append(AnswerChange(question.slug, change, option, leader, replaced))
    return tuple(changes)


def _alternatives(question: Question, current: tuple[str, ...]):
    """(change, option, replaced option, new answer) for every other single answer to `question`.

    “I don't know” is never suggested: it cannot change a leader, only widen the field.
    """
    known = tuple(o for o in current if not question.option(o).is_unknown)
    for option in question.options:
        if option.is_unknown:
            continue
        if option.slug in current:
            if question.kind != SINGLE and len(current) > 1:
                yield "remove", option.slug, None, tuple(o for o in current if o != option.slug)
        elif question.kind == SINGLE or not known:
            yield "choose", option.slug, None, (option.slug,)
        else:
            yield "add", option.slug, None, (*known, option.slug)
            for replaced in known:
                yield "swap", option.slug, replaced, tuple(option.slug if o == replaced else o for o in known)


def _warnings(kb: KnowledgeBase, counted: Answers) -> tuple[Warning, ...]:
    chosen = {(question, option) for question, options in counted.items() for option in options}
    return tuple(
        Warning(rule.slug, rule.severity, rule.message, rule.references)
        for rule in kb.rules
        if rule.when_all <= chosen and not (rule.unless_any & chosen)
    )


# --- Plain data for JSON, the command line and report snapshots ----------------------------------


def describe_change(kb: KnowledgeBase, change: AnswerChange) -> str:
    """One sentence: which different answer would put which protocol first."""
    question = kb.question(change.question)
    option = question.option(change.option)
    if change.change == "choose":
        what = f"answering “{option.label}” to “{question.title}”"
    elif change.change == "add":
        what = f"adding “{option.label}” to “{question.title}”"
    elif change.change == "remove":
        what = f"dropping “{option.label}” from “{question.title}”"
    else:
        replaced = question.option(change.replaces).label
        what = f"answering “{option.label}” instead of “{replaced}” to “{question.title}”"
    if change.new_leader is None:
        return f"{what[0].upper()}{what[1:]} would leave no protocol standing."
    return f"{what[0].upper()}{what[1:]} would put {kb.protocol(change.new_leader).name} first."


def as_dict(kb: KnowledgeBase, result: Recommendation) -> dict:
    """The whole recommendation as JSON-ready data, with names beside every slug."""
    criteria = {criterion.slug: criterion for criterion in kb.criteria}

    def protocol_ref(slug: str | None) -> dict | None:
        return None if slug is None else {"slug": slug, "name": kb.protocol(slug).name}

    def answer_ref(question_slug: str, option_slug: str) -> dict:
        question = kb.question(question_slug)
        return {
            "question": question_slug,
            "question_title": question.title,
            "option": option_slug,
            "option_label": question.option(option_slug).label,
        }

    def reference_list(slugs: tuple[str, ...]) -> list[dict]:
        return [dataclass_dict(kb.references[slug]) for slug in slugs if slug in kb.references]

    def guide(slug: str) -> dict:
        protocol = kb.protocol(slug)
        return {
            "protocol": protocol_ref(slug),
            "summary": protocol.summary,
            "configuration": list(protocol.guidance),
            "ports": protocol.ports,
            "strengths": list(protocol.strengths),
            "limitations": list(protocol.limitations),
            "references": reference_list(protocol.references),
        }

    guided = [result.primary] if result.primary else []
    if result.layering is not None:
        guided += [result.layering.network, result.layering.application]
    return {
        "primary": protocol_ref(result.primary),
        "runner_up": protocol_ref(result.runner_up),
        "margin": _round(result.margin),
        "knowledge_base_version": result.knowledge_base_version,
        "layering": None
        if result.layering is None
        else {
            "network": protocol_ref(result.layering.network),
            "application": protocol_ref(result.layering.application),
            "reason": result.layering.reason,
        },
        "ranking": [
            {
                "rank": rank,
                "protocol": protocol_ref(score.protocol),
                "total": _round(score.total),
                "contributions": [
                    {
                        "criterion": c.criterion,
                        "criterion_name": criteria[c.criterion].name,
                        "weight": c.weight,
                        "rating": c.rating,
                        "points": _round(c.points),
                    }
                    for c in score.contributions
                ],
            }
            for rank, score in enumerate(result.ranking, start=1)
        ],
        "excluded": [
            {
                "protocol": protocol_ref(e.protocol),
                **answer_ref(e.question, e.option),
                "kind": e.kind,
                "reason": e.reason,
            }
            for e in result.excluded
        ],
        "weights": [
            {
                "criterion": slug,
                "criterion_name": criteria[slug].name,
                "weight": weight,
                "from_answers": [
                    answer_ref(s.question, s.option) | {"weight": s.weight}
                    for s in result.weight_sources
                    if s.criterion == slug and s.question
                ],
            }
            for slug, weight in result.weights.items()
        ],
        "sensitivity": [
            {
                "criterion": flip.criterion,
                "criterion_name": criteria[flip.criterion].name,
                "weight": flip.weight,
                "flip_at": _round(flip.flip_at),
                "new_leader": protocol_ref(flip.new_leader),
            }
            for flip in result.sensitivity
        ],
        "answer_changes": [
            {
                **answer_ref(change.question, change.option),
                "change": change.change,
                "replaces": change.replaces,
                "new_leader": protocol_ref(change.new_leader),
                "sentence": describe_change(kb, change),
            }
            for change in result.answer_changes
        ],
        "warnings": [
            {
                "rule": w.rule,
                "severity": w.severity,
                "message": w.message,
                "references": reference_list(w.references),
            }
            for w in result.warnings
        ],
        "answers": [answer_ref(q, o) for q, options in result.answers.items() for o in options],
        "ignored_answers": [
            answer_ref(q, o) for q, options in result.ignored_answers.items() for o in options
        ],
        "unknown": [{"question": q, "question_title": kb.question(q).title} for q in result.unknown],
        "guidance": [guide(slug) for slug in dict.fromkeys(guided)],
    }


def dataclass_dict(obj) -> dict:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass(frozen=True, slots=True)
class ProfileCheck:
    """A use-case profile run through the engine, beside the protocol its expert expects."""

    profile: str
    expected: str
    result: Recommendation
    gap: tuple[str, ...]
    """Why the engine's choice differs from the expectation; empty when they agree."""

    @property
    def agrees(self) -> bool:
        return self.result.primary == self.expected


def check_profiles(kb: KnowledgeBase) -> tuple[ProfileCheck, ...]:
    """Run every profile; for each that now disagrees, say which exclusions or criteria decide it."""
    checks = []
    for profile in kb.profiles:
        result = recommend(kb, profile.answers)
        checks.append(
            ProfileCheck(
                profile.slug, profile.expected_protocol, result, _gap(kb, result, profile.expected_protocol)
            )
        )
    return tuple(checks)


def _gap(kb: KnowledgeBase, result: Recommendation, expected: str) -> tuple[str, ...]:
    if result.primary == expected:
        return ()
    expected_name = kb.protocol(expected).name
    exclusions = [e for e in result.excluded if e.protocol == expected]
    if exclusions:
        return tuple(
            f"{expected_name} is excluded by “{kb.question(e.question).option(e.option).label}”: {e.reason}"
            for e in exclusions
        )
    if result.primary is None:
        return ("No protocol meets every constraint of these answers.",)
    leader, wanted = result.score(result.primary), result.score(expected)
    lines = [
        f"{kb.protocol(result.primary).name} leads {expected_name} by {leader.total - wanted.total:.1f} points."
    ]
    names = {criterion.slug: criterion.name for criterion in kb.criteria}
    deciding = sorted(
        zip(leader.contributions, wanted.contributions, strict=True),
        key=lambda pair: pair[1].points - pair[0].points,
    )
    for ahead, behind in deciding[:3]:
        if ahead.points > behind.points:
            lines.append(
                f"{names[ahead.criterion]} (weight {ahead.weight}): rated {ahead.rating} against {behind.rating}, "
                f"{ahead.points - behind.points:.1f} points."
            )
    return tuple(lines)


# --- Integrity of the knowledge base --------------------------------------------------------------
#
# Admin edits happen one record at a time, so the knowledge base passes through states that the
# scoring above cannot handle (a criterion nobody has rated yet) or that quietly distort the advice
# (an option that does nothing). Each check below finds one kind of problem; add a check by writing a
# function and listing it in INTEGRITY_CHECKS.

RATING_MIN = 0


@dataclass(frozen=True, slots=True)
class IntegrityProblem:
    """One thing in the knowledge base that breaks or distorts the advice, and how to fix it."""

    code: str
    """Stable name of the kind of problem, e.g. 'rating-missing'."""
    subject: str
    """The record at fault, as a maintainer knows it, e.g. 'Criterion “Forward secrecy”'."""
    message: str
    """What is wrong and what to do about it."""
    record: tuple[str, ...] = ()
    """The record to open to fix it: its kind ('protocol', 'criterion', 'rating', 'question', 'option',
    'profile' or 'rule') and its slugs, e.g. ('option', 'scope', 'unknown')."""


def _score_or_zero(ratings: Mapping[tuple[str, str], Rating], protocol: str, criterion: str) -> int:
    rating = ratings.get((protocol, criterion))
    return rating.score if rating is not None else 0


def _quoted(names: Iterable[str]) -> str:
    """“A”, “A and B”, “A, B and C”."""
    quoted = [f"“{name}”" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _option_words(kb: KnowledgeBase, pair: tuple[str, str]) -> str:
    """An answer as the admin shows it (“Question: Option”), or its slugs when it no longer exists."""
    question = kb.question(pair[0])
    option = question.option(pair[1]) if question else None
    return f"{question.title}: {option.label}" if option else f"{pair[0]}/{pair[1]}"


def _option_subject(question: Question, option: Option) -> str:
    return f"Option “{question.title}: {option.label}”"


def _unrated(
    protocols: tuple[Protocol, ...],
    criteria: tuple[Criterion, ...],
    ratings: Mapping[tuple[str, str], Rating],
) -> dict[Protocol | Criterion, list[Criterion | Protocol]]:
    """Missing ratings, each put on whichever of its protocol or criterion lacks more of them.

    A new criterion lacks a rating from every protocol and a new protocol one on every criterion: the
    record to complete is the new one, not the dozen it is missing against. Ties go to the criterion.
    """
    missing = [(p, c) for p in protocols for c in criteria if (p.slug, c.slug) not in ratings]
    per_protocol = Counter(p.slug for p, _ in missing)
    per_criterion = Counter(c.slug for _, c in missing)
    unrated: dict[Protocol | Criterion, list[Criterion | Protocol]] = {}
    for protocol, criterion in missing:
        if per_protocol[protocol.slug] > per_criterion[criterion.slug]:
            unrated.setdefault(protocol, []).append(criterion)
        else:
            unrated.setdefault(criterion, []).append(protocol)
    return unrated


def _missing_ratings(kb: KnowledgeBase) -> Iterator[IntegrityProblem]:
    for record, others in _unrated(kb.protocols, kb.criteria, kb.ratings).items():
        names = _quoted(other.name for other in others)
        if isinstance(record, Criterion):
            yield IntegrityProblem(
                "rating-missing",
                f"Criterion “{record.name}”",
                f"Not rated for {names}. Rate every protocol on it.",
                ("criterion", record.slug),
            )
        else:
            yield IntegrityProblem(
                "rating-missing",
                f"Protocol “{record.name}”",
                f"Not rated on {names}. Rate it on every criterion.",
                ("protocol", record.slug),
            )


def _ratings_out_of_range(kb: KnowledgeBase) -> Iterator[IntegrityProblem]:
    protocols = {p.slug: p.name for p in kb.protocols}
    criteria = {c.slug: c.name for c in kb.criteria}
    for rating in kb.ratings.values():
        if not RATING_MIN <= rating.score <= RATING_MAX:
            protocol = protocols.get(rating.protocol, rating.protocol)
            criterion = criteria.get(rating.criterion, rating.criterion)
            yield IntegrityProblem(
                "rating-out-of-range",
                f"Rating of {protocol} on {criterion}",
                f"Rated {rating.score}; ratings run from {RATING_MIN} to {RATING_MAX}. Correct the score.",
                ("rating", rating.protocol, rating.criterion),
            )


def _conditions(kb: KnowledgeBase) -> Iterator[IntegrityProblem]:
    """Conditions must name an option of an earlier question: `visible_questions` decides in one pass."""
    position = {question.slug: index for index, question in enumerate(kb.questions)}
    for index, question in enumerate(kb.questions):
        for pair in sorted(question.condition):
            target = kb.question(pair[0])
            if target is None or target.option(pair[1]) is None:
                code, why = "condition-unknown-option", "which is not an option of any question"
            elif position[target.slug] == index:
                code, why = "condition-not-earlier", "an answer to this question itself"
            elif position[target.slug] > index:
                code, why = "condition-not-earlier", "an answer to a later question"
            else:
                continue
            yield IntegrityProblem(
                code,
                f"Question “{question.title}”",
                f"It is shown only after “{_option_words(kb, pair)}”, {why}, so that answer can never "
                "open it. Conditions may only name options of earlier questions: remove this one.",
                ("question", question.slug),
            )


def _depended_on(kb: KnowledgeBase) -> set[tuple[str, str]]:
    """Answers that something else looks for: conditions of questions and triggers of warnings."""
    return set().union(*(q.condition for q in kb.questions), *(r.when_all | r.unless_any for r in kb.rules))


def _options_without_effect(kb: KnowledgeBase) -> Iterator[IntegrityProblem]:
    used = _depended_on(kb)
    for question in kb.questions:
        for option in question.options:
            if not option.is_unknown and not option.effects and (question.slug, option.slug) not in used:
                yield IntegrityProblem(
                    "option-without-effect",
                    _option_subject(question, option),
                    "Choosing it changes nothing: it has no effect, and no question or warning depends on "
                    "it. Add an effect, mark it “I don't know”, or delete it.",
                    ("option", question.slug, option.slug),
                )


def _unknown_options_with_effects(kb: KnowledgeBase) -> Iterator[IntegrityProblem]:
    for question in kb.questions:
        for option in question.options:
            if option.is_unknown and option.effects:
                yield IntegrityProblem(
                    "unknown-option-has-effects",
                    _option_subject(question, option),
                    "“I don't know” must leave the result as wide as it was, but this one has effects. "
                    "Remove its effects, or untick “I don't know”.",
                    ("option", question.slug, option.slug),
                )


def _negative_weights(kb: KnowledgeBase) -> Iterator[IntegrityProblem]:
    names = {criterion.slug: criterion.name for criterion in kb.criteria}
    for criterion in kb.criteria:
        if criterion.base_weight < 0:
            yield IntegrityProblem(
                "weight-negative",
                f"Criterion “{criterion.name}”",
                f"Its base weight is {criterion.base_weight}; weights cannot be negative. Set 0 or more.",
                ("criterion", criterion.slug),
            )
    for question in kb.questions:
        for option in question.options:
            for effect in option.effects:
                if effect.kind == WEIGHT and effect.weight < 0:
                    yield IntegrityProblem(
                        "weight-negative",
                        _option_subject(question, option),
                        f"It adds {effect.weight} to “{names.get(effect.criterion, effect.criterion)}”; "
                        "weights cannot be negative. Give the effect a positive weight.",
                        ("option", question.slug, option.slug),
                    )


def _effect_targets(kb: KnowledgeBase) -> Iterator[IntegrityProblem]:
    criteria = {criterion.slug for criterion in kb.criteria}
    for question in kb.questions:
        for option in question.options:
            for effect in option.effects:
                if effect.kind == WEIGHT and effect.criterion not in criteria:
                    code, what = "effect-unknown-criterion", f"weights criterion “{effect.criterion}”"
                elif effect.kind in (EXCLUDE, REQUIRE) and effect.protocol not in kb._protocols:
                    code, what = "effect-unknown-protocol", f"{effect.kind}s protocol “{effect.protocol}”"
                else:
                    continue
                yield IntegrityProblem(
                    code,
                    _option_subject(question, option),
                    f"An effect {what}, which does not exist. Remove the effect or point it at an existing one.",
                    ("option", question.slug, option.slug),
                )


def _rule_options(kb: KnowledgeBase) -> Iterator[IntegrityProblem]:
    for rule in kb.rules:
        subject = f"Consistency warning “{rule.slug}”"
        if not rule.when_all:
            yield IntegrityProblem(
                "rule-without-trigger",
                subject,
                "It has no trigger, so it would warn on every assessment. Choose the answers that trigger it.",
                ("rule", rule.slug),
            )
        unknown = sorted(
            pair
            for pair in rule.when_all | rule.unless_any
            if kb.question(pair[0]) is None or kb.question(pair[0]).option(pair[1]) is None
        )
        if unknown:
            yield IntegrityProblem(
                "rule-unknown-option",
                subject,
                f"It names {_quoted(f'{q}/{o}' for q, o in unknown)}, "
                f"{'which is not an option' if len(unknown) == 1 else 'which are not options'} of any question. "
                "Choose existing options.",
                ("rule", rule.slug),
            )


def _profiles(kb: KnowledgeBase) -> Iterator[IntegrityProblem]:
    for profile in kb.profiles:
        subject = f"Use-case profile “{profile.name}”"
        if profile.expected_protocol not in kb._protocols:
            yield IntegrityProblem(
                "profile-unknown-protocol",
                subject,
                f"It expects protocol “{profile.expected_protocol}”, which does not exist. Choose another.",
                ("profile", profile.slug),
            )
        errors = validate(kb, profile.answers)
        if errors:
            details = "; ".join(
                f"“{kb.question(slug).title if kb.question(slug) else slug}”: {message}"
                for slug, message in errors.items()
            )
            yield IntegrityProblem(
                "profile-invalid-answers",
                subject,
                f"Its preset answers do not fit the questions. {details} Correct its answers.",
                ("profile", profile.slug),
            )


def _questions_with_too_few_options(kb: KnowledgeBase) -> Iterator[IntegrityProblem]:
    for question in kb.questions:
        if len(question.options) < 2:
            yield IntegrityProblem(
                "question-too-few-options",
                f"Question “{question.title}”",
                f"It has {len(question.options)} option{'' if len(question.options) == 1 else 's'}; "
                "a question needs at least two. Add options, or delete the question.",
                ("question", question.slug),
            )


INTEGRITY_CHECKS: tuple[Callable[[KnowledgeBase], Iterable[IntegrityProblem]], ...] = (
    _missing_ratings,
    _ratings_out_of_range,
    _negative_weights,
    _questions_with_too_few_options,
    _conditions,
    _options_without_effect,
    _unknown_options_with_effects,
    _effect_targets,
    _rule_options,
    _profiles,
)


def integrity_problems(kb: KnowledgeBase) -> tuple[IntegrityProblem, ...]:
    """Every integrity problem of `kb`, check by check; empty when the advice can be trusted."""
    return tuple(problem for check in INTEGRITY_CHECKS for problem in check(kb))


def repaired(kb: KnowledgeBase) -> KnowledgeBase:
    """`kb` without what is broken: for a process that has no sound snapshot to fall back on.

    Out-of-range ratings go, then whichever protocols and criteria lack ratings
    (the record each missing rating is put on, as in `integrity_problems`).
    Questions with fewer than two options go; conditions keep only options of
    earlier questions that remain, and a conditional question left with none
    goes too, since it could never be asked. Effects on what is gone, negative
    weights and the effects of “I don't know” go; so do warnings on answers
    that are gone and profiles whose answers no longer fit.
    """
    ratings = {key: rating for key, rating in kb.ratings.items() if RATING_MIN <= rating.score <= RATING_MAX}
    unrated = _unrated(kb.protocols, kb.criteria, ratings)
    protocols = tuple(p for p in kb.protocols if p not in unrated)
    criteria = tuple(replace(c, base_weight=max(c.base_weight, 0)) for c in kb.criteria if c not in unrated)
    kept_protocols = {p.slug for p in protocols}
    kept_criteria = {c.slug for c in criteria}

    def sound(effect: Effect) -> bool:
        if effect.kind == WEIGHT:
            return effect.criterion in kept_criteria and effect.weight >= 0
        if effect.kind in (EXCLUDE, REQUIRE):
            return effect.protocol in kept_protocols
        return True

    questions = []
    answers: set[tuple[str, str]] = set()
    for question in kb.questions:
        condition = question.condition & answers
        if len(question.options) < 2 or (question.condition and not condition):
            continue
        options = tuple(
            replace(option, effects=() if option.is_unknown else tuple(filter(sound, option.effects)))
            for option in question.options
        )
        questions.append(replace(question, options=options, condition=condition))
        answers |= {(question.slug, option.slug) for option in options}
    rules = tuple(
        replace(rule, unless_any=rule.unless_any & answers)
        for rule in kb.rules
        if rule.when_all and rule.when_all <= answers
    )
    partial_kb = replace(
        kb,
        protocols=protocols,
        criteria=criteria,
        ratings=MappingProxyType(
            {(p, c): r for (p, c), r in ratings.items() if p in kept_protocols and c in kept_criteria}
        ),
        questions=tuple(questions),
        rules=rules,
        profiles=(),
    )
    profiles = tuple(
        profile
        for profile in kb.profiles
        if profile.expected_protocol in kept_protocols and not validate(partial_kb, profile.answers)
    )
    return replace(partial_kb, profiles=profiles)


# --- Answers given before an edit -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DroppedAnswer:
    """An answer that an edit of the knowledge base has left meaningless, and why, in the user's words."""

    question: str
    options: tuple[str, ...]
    reason: str


def fit_answers(
    kb: KnowledgeBase, answers: Answers
) -> tuple[dict[str, tuple[str, ...]], tuple[DroppedAnswer, ...]]:
    """The answers that still mean something in `kb`, and those that no longer do.

    Answers are kept as a user gave them, so an option renamed or removed, a
    question deleted, or a question turned single-choice leaves answers that
    `recommend` refuses. Such an answer is dropped whole, never trimmed, so the
    question shows as unanswered and is asked again.
    """
    errors = answer_errors(kb, answers)
    kept = {slug: tuple(options) for slug, options in answers.items() if slug not in errors}
    dropped = tuple(
        DroppedAnswer(slug, tuple(answers[slug]), _drop_reason(kb, slug, tuple(answers[slug]), message))
        for slug, message in errors.items()
    )
    return kept, dropped


def _drop_reason(kb: KnowledgeBase, slug: str, options: tuple[str, ...], error: str) -> str:
    question = kb.question(slug)
    if question is None:
        return f"The question “{slug}” has been removed, so its answer no longer counts."
    gone = [option for option in options if question.option(option) is None]
    if gone:
        verb = "is no longer an option" if len(gone) == 1 else "are no longer options"
        return f"{_quoted(gone)} {verb} of “{question.title}”; answer it again."
    return f"Your answer to “{question.title}” no longer fits: {error[0].lower()}{error[1:]} Answer it again."
