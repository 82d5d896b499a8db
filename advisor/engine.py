"""The recommendation engine: pure Python over an immutable snapshot of the knowledge base.

No ORM, request or settings in here. Given a `KnowledgeBase` and the answers
(question slug -> chosen option slugs), `recommend` returns a design: one part
for every flow the user needs protected (a link between sites, remote access,
a public service...), each with the protocol that fits it, its mode, why, the
runner-up and what it would have cost.

For each part, in this order:
1. Hard requirements bind: an answer that bears on the part can exclude or
   require protocols, with its reason, before anything is scored. An answer
   can also demand two independent layers, which makes the part layered.
2. Scoring: each criterion's weight is its base weight plus the weights that
   the part's answers add; a protocol's score is the weighted mean of its
   ratings, scaled so that a protocol rated 5 everywhere scores 100. Ties go
   to the protocol listed first in the knowledge base, and are named as ties.
3. Explanation: sentences built from the binding answers and the criteria
   that separate the leader from the runner-up; guidance items chosen by the
   answers; and at most five realistic answer changes that would change it.

"I don't know" and unanswered questions never exclude and never weigh; the
result lists the assumption the knowledge base makes for each of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import partial
from types import MappingProxyType

RATING_MAX = 5
SINGLE = "single"
WEIGHT, EXCLUDE, REQUIRE, LAYERS = "weight", "exclude", "require", "layers"
NETWORK_LAYER, TUNNEL_LAYER, APPLICATION_LAYER = "network", "tunnel", "application"
TLS_FAMILY = "tls"
MODE, QUANTUM, URGENCY, SETTING = "mode", "quantum", "urgency", "setting"
OWN_SECTION = frozenset({MODE, QUANTUM, URGENCY, SETTING})
"""Guidance kinds the report places on their own, not in the checklist."""
CLOSE_CALL = 3.0
"""Points within which a lead is a close call: one rating or weight edit could reverse it."""
MAX_LEVERS = 5
CHANGE_PREFERENCE = ("remove", "choose", "swap", "add")
"""Among changes to one question with the same outcome, the plainest is kept."""

Answers = Mapping[str, tuple[str, ...]]
Pair = tuple[str, str]


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
    mode: str
    ports: str
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Flow:
    """A kind of flow to protect; a design has one part per flow the answers name."""

    slug: str
    name: str
    description: str
    order: int


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
    flow: str | None = None
    """The flow this option adds to the design; its effects then bear on that part alone."""
    applies_to: frozenset[str] = frozenset()
    """The flows this option's effects bear on; empty for all of them."""
    weakens: bool = False
    """Choosing it gives up protection, so it is never offered as a way to change the result."""
    offered_as_change: bool = True
    """False for answers that describe a harder situation: offered only to settle an open question."""

    def bears_on(self, flow: str | None) -> bool:
        if self.flow is not None:
            return self.flow == flow
        return flow is None or not self.applies_to or flow in self.applies_to


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
    condition: frozenset[Pair] = frozenset()
    """(question slug, option slug) pairs; the question is asked when any of them was chosen."""
    assumption: str = ""
    """What the advice assumes when this question is left open or answered “I don't know”."""
    lever_cost: int = 3
    """0 when the answer describes the case (never offered as a change); else 1 (easy) to 5 (hard)."""

    def option(self, slug: str) -> Option:
        """The option with this slug; asking for one that is not there is a bug (KeyError)."""
        found = self.find_option(slug)
        if found is None:
            raise KeyError(f"{self.slug} has no option {slug}")
        return found

    def find_option(self, slug: str) -> Option | None:
        """The option with this slug, or None for answers that came from outside."""
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
    when_all: frozenset[Pair]
    unless_any: frozenset[Pair]
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Source:
    reference: str
    section: str = ""


@dataclass(frozen=True, slots=True)
class Guidance:
    """A checklist item, pitfall, configuration note or mode, shown only where its conditions hold."""

    slug: str
    kind: str
    title: str
    text: str
    order: int = 0
    protocols: frozenset[str] = frozenset()
    flows: frozenset[str] = frozenset()
    when_all: frozenset[Pair] = frozenset()
    when_any: frozenset[Pair] = frozenset()
    unless_any: frozenset[Pair] = frozenset()
    sources: tuple[Source, ...] = ()
    key: str = ""
    """For a setting: the name configuration templates know it by."""

    def holds(self, chosen: frozenset[Pair]) -> bool:
        """Whether the answers meet the item's answer conditions (protocols and flows aside)."""
        return (
            self.when_all <= chosen
            and (not self.when_any or not self.when_any.isdisjoint(chosen))
            and self.unless_any.isdisjoint(chosen)
        )

    @property
    def design_wide(self) -> bool:
        return not self.protocols and not self.flows


@dataclass(frozen=True, slots=True)
class _OptionEffects:
    """What one option does to a ranking, precomputed: points for every protocol, packed, and constraints."""

    points: int
    excludes: frozenset[str]
    layers: bool
    names_flow: bool
    """The option adds a flow; its exclusions say what cannot protect that flow alone, not what cannot run inside it."""


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
    flows: tuple[Flow, ...] = ()
    guidance: tuple[Guidance, ...] = ()
    _field_bits: int = field(init=False, repr=False, compare=False)
    _base_points: int = field(init=False, repr=False, compare=False)
    _options: Mapping[Pair, _OptionEffects] = field(init=False, repr=False, compare=False)
    _questions: Mapping[str, Question] = field(init=False, repr=False, compare=False)
    _protocols: Mapping[str, Protocol] = field(init=False, repr=False, compare=False)
    _flows: Mapping[str, Flow] = field(init=False, repr=False, compare=False)
    _guidance: Mapping[str, Guidance] = field(init=False, repr=False, compare=False)
    _openers: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Precompute lookups and the points that base weights and each option add.

        Finding what would change the answer means re-ranking every part for
        dozens of alternative answers. Each option's points for all protocols
        are therefore packed into one integer, a fixed-width field per protocol
        wide enough for the largest possible total, so adding an option is one
        addition. A missing rating counts as 0, so that an incomplete knowledge
        base still builds and `integrity_problems` can say what is missing.
        """
        setup = partial(object.__setattr__, self)
        most_weight = sum(c.base_weight for c in self.criteria) + sum(
            max(e.weight, 0) for q in self.questions for o in q.options for e in o.effects if e.kind == WEIGHT
        )
        setup("_field_bits", (RATING_MAX * most_weight).bit_length() + 1)
        setup(
            "_base_points",
            self._pack(
                sum(c.base_weight * self.rating(p.slug, c.slug) for c in self.criteria)
                for p in self.protocols
            ),
        )
        every_protocol = frozenset(p.slug for p in self.protocols)
        options = {}
        for question in self.questions:
            for option in question.options:
                weights = [e for e in option.effects if e.kind == WEIGHT]
                excludes = {e.protocol for e in option.effects if e.kind == EXCLUDE and e.protocol}
                required = {e.protocol for e in option.effects if e.kind == REQUIRE and e.protocol}
                if required:
                    excludes |= every_protocol - required
                options[question.slug, option.slug] = _OptionEffects(
                    self._pack(
                        sum(max(e.weight, 0) * self.rating(p.slug, e.criterion) for e in weights)
                        for p in self.protocols
                    ),
                    frozenset(excludes),
                    any(e.kind == LAYERS for e in option.effects),
                    option.flow is not None,
                )
        setup("_options", MappingProxyType(options))
        setup("_questions", MappingProxyType({q.slug: q for q in self.questions}))
        setup("_protocols", MappingProxyType({p.slug: p for p in self.protocols}))
        setup("_flows", MappingProxyType({f.slug: f for f in self.flows}))
        setup("_guidance", MappingProxyType({item.slug: item for item in self.guidance}))
        setup("_openers", frozenset(slug for q in self.questions for slug, _ in q.condition))

    def _pack(self, values: Iterable[int]) -> int:
        return sum(value << (i * self._field_bits) for i, value in enumerate(values))

    def _unpack(self, packed: int) -> list[int]:
        mask = (1 << self._field_bits) - 1
        return [(packed >> (i * self._field_bits)) & mask for i in range(len(self.protocols))]

    def rating(self, protocol: str, criterion: str | None) -> int:
        if criterion is None:
            return 0
        rating = self.ratings.get((protocol, criterion))
        return rating.score if rating is not None else 0

    def question(self, slug: str) -> Question:
        """The question with this slug; asking for one that is not there is a bug (KeyError)."""
        return self._questions[slug]

    def find_question(self, slug: str) -> Question | None:
        """The question with this slug, or None for answers that came from outside."""
        return self._questions.get(slug)

    def is_option(self, pair: Pair) -> bool:
        """Whether (question, option) names an option of a question of this knowledge base."""
        question = self._questions.get(pair[0])
        return question is not None and question.find_option(pair[1]) is not None

    def protocol(self, slug: str) -> Protocol:
        return self._protocols[slug]

    def flow(self, slug: str | None) -> Flow | None:
        return self._flows.get(slug) if slug else None

    def guidance_item(self, slug: str) -> Guidance:
        return self._guidance[slug]

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
    chosen: set[Pair] = set()
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
        question = kb.find_question(slug)
        if question is None:
            errors[slug] = "There is no such question."
            continue
        if not options:
            errors[slug] = "Choose at least one option."
            continue
        unknown = [option for option in options if question.find_option(option) is None]
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
    """A different answer that would change one part of the design."""

    question: str
    change: str
    """'choose' (the answer becomes `option`), or for multiple choice 'add', 'remove' or 'swap'."""
    option: str
    new_leader: str | None
    """The part's new protocol (its outer layer when layered); None when nothing would stand."""
    replaces: str | None = None
    """For 'swap': the chosen option that `option` takes the place of."""
    flow: str | None = None
    """The flow of the part that would change."""
    new_inner: str | None = None
    """For a layered part: the new inner layer."""
    settles_open_question: bool = False
    """The question was left open or answered “I don't know”: answering it is the cheapest change."""


@dataclass(frozen=True, slots=True)
class Layer:
    role: str
    """'single', or 'outer' and 'inner' for a layered part."""
    protocol: str
    mode: str


@dataclass(frozen=True, slots=True)
class Warning:
    rule: str
    severity: str
    message: str
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Assumption:
    question: str
    text: str


@dataclass(frozen=True)
class Part:
    """One flow of the design, ranked with the answers that bear on it."""

    flow: str | None
    """None when the answers name no flow: one part covers everything described."""
    weights: Mapping[str, int]
    weight_sources: tuple[WeightSource, ...]
    ranking: tuple[Score, ...]
    excluded: tuple[Exclusion, ...]
    layers: tuple[Layer, ...]
    runner_up: str | None
    margin: float | None
    layered_by: tuple[Pair, ...]
    """The answers that demand two independent layers for this part."""
    sensitivity: tuple[WeightFlip, ...]
    guidance: tuple[str, ...]
    """Slugs of the guidance items that apply to this part and not to the whole design."""
    quantum: tuple[str, ...] = ()
    """The post-quantum mechanism item of each of the part's protocols, in layer order."""
    urgency: str | None = None
    """The post-quantum urgency item these answers call for."""
    settings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per protocol of the part, each setting key and the slug of the setting item these answers select."""
    why: tuple[str, ...] = ()

    @property
    def primary(self) -> str | None:
        return self.layers[0].protocol if self.layers else None

    @property
    def protocols(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(layer.protocol for layer in self.layers))

    @property
    def close_call(self) -> bool:
        return self.margin is not None and self.margin < CLOSE_CALL

    def score(self, protocol: str) -> Score | None:
        return next((score for score in self.ranking if score.protocol == protocol), None)


@dataclass(frozen=True)
class Recommendation:
    knowledge_base_version: int
    answers: Mapping[str, tuple[str, ...]]
    """The answers that counted: those to questions that are asked."""
    ignored_answers: Mapping[str, tuple[str, ...]]
    """Answers to questions that the other answers no longer ask; they count for nothing."""
    unknown: tuple[str, ...]
    """Questions answered “I don't know” or left open: they widen the result."""
    assumptions: tuple[Assumption, ...]
    parts: tuple[Part, ...]
    summary: str
    """The decision in a sentence or two."""
    answer_changes: tuple[AnswerChange, ...]
    warnings: tuple[Warning, ...]
    guidance: tuple[str, ...]
    """Slugs of the guidance items that apply to the whole design."""

    @property
    def kind(self) -> str:
        if any(len(part.layers) > 1 for part in self.parts):
            return "layered"
        return "parts" if len(self.parts) > 1 else "single"

    # The first part, for callers that ask about a one-part design.
    @property
    def primary(self) -> str | None:
        return self.parts[0].primary

    @property
    def runner_up(self) -> str | None:
        return self.parts[0].runner_up

    @property
    def margin(self) -> float | None:
        return self.parts[0].margin

    @property
    def ranking(self) -> tuple[Score, ...]:
        return self.parts[0].ranking

    @property
    def excluded(self) -> tuple[Exclusion, ...]:
        return self.parts[0].excluded

    @property
    def weights(self) -> Mapping[str, int]:
        return self.parts[0].weights

    @property
    def weight_sources(self) -> tuple[WeightSource, ...]:
        return self.parts[0].weight_sources

    @property
    def sensitivity(self) -> tuple[WeightFlip, ...]:
        return self.parts[0].sensitivity

    def score(self, protocol: str) -> Score | None:
        return self.parts[0].score(protocol)


def _split_answers(
    kb: KnowledgeBase, answers: Answers
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Answers to asked questions, in question order, and answers to questions no longer asked."""
    asked = {question.slug for question in visible_questions(kb, answers)}
    counted = {q.slug: tuple(answers[q.slug]) for q in kb.questions if q.slug in asked and q.slug in answers}
    ignored = {slug: tuple(options) for slug, options in answers.items() if slug not in asked}
    return counted, ignored


def _pairs(answers: Answers) -> Iterator[Pair]:
    return ((question, option) for question, options in answers.items() for option in options)


def flows_of(kb: KnowledgeBase, answers: Answers) -> tuple[str | None, ...]:
    """The flows the answers name, in the knowledge base's order; (None,) when they name none."""
    chosen = set()
    for question, option in _pairs(answers):
        found = kb.question(question).option(option)
        if found.flow is not None:
            chosen.add(found.flow)
    return tuple(f.slug for f in kb.flows if f.slug in chosen) or (None,)


def _bearing(kb: KnowledgeBase, answers: Answers, flow: str | None) -> list[Pair]:
    """The chosen answers whose effects bear on the part for `flow`."""
    return [pair for pair in _pairs(answers) if kb.question(pair[0]).option(pair[1]).bears_on(flow)]


def _constraints(kb: KnowledgeBase, pairs: Iterable[Pair]) -> dict[str, list[Exclusion]]:
    excluded: dict[str, list[Exclusion]] = {}
    for question_slug, option_slug in pairs:
        option = kb.question(question_slug).option(option_slug)
        required = {effect.protocol: effect for effect in option.effects if effect.kind == REQUIRE}
        for effect in option.effects:
            if effect.kind == EXCLUDE and effect.protocol:
                excluded.setdefault(effect.protocol, []).append(
                    Exclusion(effect.protocol, question_slug, option_slug, EXCLUDE, effect.reason)
                )
        if required:
            reason = next(iter(required.values())).reason
            for protocol in kb.protocols:
                if protocol.slug not in required:
                    excluded.setdefault(protocol.slug, []).append(
                        Exclusion(protocol.slug, question_slug, option_slug, REQUIRE, reason)
                    )
    return excluded


@dataclass(slots=True)
class _Tally:
    points: int
    excluded: set[str]
    """Protocols that cannot protect the part."""
    barred: set[str]
    """Protocols that cannot run in the part at all, even as an inner layer."""
    layered: bool


def _tally(kb: KnowledgeBase, pairs: Iterable[Pair]) -> _Tally:
    """Every protocol's weighted rating sum (packed), the exclusions, and whether two layers are due."""
    tally = _Tally(kb._base_points, set(), set(), False)
    for pair in pairs:
        effects = kb._options[pair]
        tally.points += effects.points
        tally.excluded |= effects.excludes
        if not effects.names_flow:
            tally.barred |= effects.excludes
        tally.layered = tally.layered or effects.layers
    return tally


def _outer_candidates(kb: KnowledgeBase) -> frozenset[str]:
    return frozenset(p.slug for p in kb.protocols if p.layer in (NETWORK_LAYER, TUNNEL_LAYER))


def _inner_candidates(kb: KnowledgeBase) -> frozenset[str]:
    """Per-application TLS: the layer that protects each application inside the network layer."""
    return frozenset(p.slug for p in kb.protocols if p.layer == APPLICATION_LAYER and p.family == TLS_FAMILY)


def _best(kb: KnowledgeBase, totals: list[int], excluded: set[str], among: frozenset[str] | None = None):
    """The leader: most weighted points (the weight total is shared), ties to the protocol listed first."""
    best: tuple[int, int, str] | None = None
    for protocol, total in zip(kb.protocols, totals, strict=True):
        if protocol.slug in excluded or (among is not None and protocol.slug not in among):
            continue
        if best is None or (total, -protocol.order) > best[:2]:
            best = (total, -protocol.order, protocol.slug)
    return best[2] if best else None


def _choose_layers(
    kb: KnowledgeBase, totals: list[int], excluded: set[str], barred: set[str], layered: bool
) -> tuple[str | None, str | None]:
    """The part's protocol, or its outer and inner layers when two independent layers are due.

    The outer layer protects the network path (IPsec, WireGuard or a TLS tunnel)
    and must meet every requirement of the part. The inner layer protects each
    application (TLS) and need not cover the whole flow on its own, so only the
    requirements that bar a protocol outright apply to it. When no application
    can use TLS, the inner layer is a second, independent instance of the outer
    protocol (another implementation, other keys), as NSA CSfC capability
    packages allow for two IPsec layers.
    """
    if not layered:
        return _best(kb, totals, excluded), None
    outer = _best(kb, totals, excluded, _outer_candidates(kb))
    if outer is None:
        return None, None
    return outer, _best(kb, totals, barred, _inner_candidates(kb)) or outer


def _signature(kb: KnowledgeBase, answers: Answers, flow: str | None) -> tuple[str | None, str | None]:
    """The protocols a part would get for `answers`, in a few additions: for comparing alternatives."""
    tally = _tally(kb, _bearing(kb, answers, flow))
    return _choose_layers(kb, kb._unpack(tally.points), tally.excluded, tally.barred, tally.layered)


def _share(weighted_rating: int, total_weight: int) -> float:
    return 100.0 * weighted_rating / (RATING_MAX * total_weight) if total_weight else 0.0


def _score_part(kb: KnowledgeBase, counted: Answers, flow: str | None) -> Part:
    """Rank the protocols for one flow with the answers that bear on it.

    Guidance and modes are chosen with the same answers, so an answer about
    another flow (who runs the far end of a site link, say) never puts an item
    into the part for a public service.
    """
    pairs = _bearing(kb, counted, flow)
    chosen = frozenset(pairs)
    weights = {criterion.slug: criterion.base_weight for criterion in kb.criteria}
    sources = [WeightSource(c.slug, c.base_weight) for c in kb.criteria if c.base_weight]
    layered_by = []
    for question_slug, option_slug in pairs:
        for effect in kb.question(question_slug).option(option_slug).effects:
            if effect.kind == WEIGHT and effect.criterion in weights:
                weights[effect.criterion] += effect.weight
                sources.append(WeightSource(effect.criterion, effect.weight, question_slug, option_slug))
            elif effect.kind == LAYERS:
                layered_by.append((question_slug, option_slug))
    total_weight = sum(weights.values())

    scores, raw = [], {}
    for protocol in kb.protocols:
        contributions = tuple(
            Contribution(
                criterion.slug,
                weights[criterion.slug],
                kb.rating(protocol.slug, criterion.slug),
                _share(weights[criterion.slug] * kb.rating(protocol.slug, criterion.slug), total_weight),
            )
            for criterion in kb.criteria
        )
        raw[protocol.slug] = sum(c.weight * c.rating for c in contributions)
        scores.append(Score(protocol.slug, _share(raw[protocol.slug], total_weight), contributions))

    excluded_by = _constraints(kb, pairs)
    barred = {
        exclusion.protocol
        for exclusions in excluded_by.values()
        for exclusion in exclusions
        if not kb._options[exclusion.question, exclusion.option].names_flow
    }
    order = {protocol.slug: protocol.order for protocol in kb.protocols}
    ranking = tuple(
        sorted(
            (score for score in scores if score.protocol not in excluded_by),
            key=lambda score: (-raw[score.protocol], order[score.protocol]),
        )
    )
    totals = [raw[p.slug] for p in kb.protocols]
    outer, inner = _choose_layers(kb, totals, set(excluded_by), barred, bool(layered_by))
    layers: tuple[Layer, ...] = ()
    if outer is not None and inner is None:
        layers = (Layer("single", outer, _mode(kb, outer, flow, chosen)),)
    elif outer is not None and inner is not None:
        layers = (
            Layer("outer", outer, _mode(kb, outer, flow, chosen)),
            Layer("inner", inner, _mode(kb, inner, flow, chosen)),
        )
    rivals = [s for s in ranking if s.protocol != outer]
    if layered_by:
        rivals = [s for s in rivals if s.protocol in _outer_candidates(kb)]
    runner_up = rivals[0].protocol if outer is not None and rivals else None
    margin = None
    if runner_up is not None:
        lead = next(s for s in ranking if s.protocol == outer)
        margin = lead.total - rivals[0].total
    excluded = tuple(exclusion for p in kb.protocols for exclusion in excluded_by.get(p.slug, ()))
    part_protocols = {layer.protocol for layer in layers}
    guidance = tuple(
        item.slug
        for item in kb.guidance
        if item.kind not in OWN_SECTION
        and not item.design_wide
        and (not item.protocols or not item.protocols.isdisjoint(part_protocols))
        and (not item.flows or flow in item.flows)
        and (part_protocols or not item.protocols)
        and item.holds(chosen)
    )
    return Part(
        flow=flow,
        weights=MappingProxyType(weights),
        weight_sources=tuple(sources),
        ranking=ranking,
        excluded=excluded,
        layers=layers,
        runner_up=runner_up,
        margin=margin,
        layered_by=tuple(layered_by),
        sensitivity=_weight_flips(kb, ranking, weights, raw, outer) if not layered_by else (),
        guidance=guidance,
        quantum=tuple(
            dict.fromkeys(
                slug
                for layer in layers
                if (slug := _first_item(kb, QUANTUM, chosen, flow, layer.protocol)) is not None
            )
        ),
        urgency=_first_item(kb, URGENCY, chosen, flow) if layers else None,
        settings=MappingProxyType(
            {layer.protocol: _settings(kb, layer.protocol, chosen, flow) for layer in layers}
        ),
    )


def _first_item(
    kb: KnowledgeBase, kind: str, chosen: frozenset[Pair], flow: str | None, protocol: str | None = None
) -> str | None:
    """The first guidance item of `kind`, in order, that holds here: for `protocol` when one is given."""
    for item in kb.guidance:
        if (
            item.kind == kind
            and (protocol is None or protocol in item.protocols)
            and (not item.flows or flow in item.flows)
            and item.holds(chosen)
        ):
            return item.slug
    return None


def _settings(
    kb: KnowledgeBase, protocol: str, chosen: frozenset[Pair], flow: str | None
) -> Mapping[str, str]:
    """For each setting key of `protocol`, the first setting item (in order) that holds for these answers."""
    found: dict[str, str] = {}
    for item in kb.guidance:
        if (
            item.kind == SETTING
            and item.key not in found
            and protocol in item.protocols
            and (not item.flows or flow in item.flows)
            and item.holds(chosen)
        ):
            found[item.key] = item.slug
    return MappingProxyType(found)


def _mode(kb: KnowledgeBase, protocol: str, flow: str | None, chosen: frozenset[Pair]) -> str:
    """How the protocol is run for these answers: a matching “mode” item, else the protocol's own mode."""
    slug = _first_item(kb, MODE, chosen, flow, protocol)
    return kb.guidance_item(slug).text if slug else kb.protocol(protocol).mode


def recommend(kb: KnowledgeBase, answers: Answers) -> Recommendation:
    """Design the protection for `answers` and explain it. Missing answers widen it, never narrow it."""
    errors = answer_errors(kb, answers)
    if errors:
        raise InvalidAnswers(errors)
    counted, ignored = _split_answers(kb, answers)
    chosen = frozenset(_pairs(counted))
    visible = visible_questions(kb, counted)
    unknown = tuple(
        question.slug
        for question in visible
        if question.slug not in counted or all(question.option(o).is_unknown for o in counted[question.slug])
    )
    parts = [_score_part(kb, counted, flow) for flow in flows_of(kb, counted)]
    changes = _answer_changes(kb, counted, parts, set(unknown))
    parts = [_with_why(kb, part, counted, [c for c in changes if c.flow == part.flow]) for part in parts]
    return Recommendation(
        knowledge_base_version=kb.version,
        answers=MappingProxyType(counted),
        ignored_answers=MappingProxyType(ignored),
        unknown=unknown,
        assumptions=tuple(
            Assumption(slug, kb.question(slug).assumption) for slug in unknown if kb.question(slug).assumption
        ),
        parts=tuple(parts),
        summary=_summary(kb, parts),
        answer_changes=changes,
        warnings=_warnings(kb, counted),
        guidance=tuple(
            item.slug
            for item in kb.guidance
            if item.kind not in OWN_SECTION
            and item.design_wide
            and item.holds(chosen)
            and any(p.layers for p in parts)
        ),
    )


def _weight_flips(
    kb: KnowledgeBase,
    ranking: tuple[Score, ...],
    weights: Mapping[str, int],
    raw: Mapping[str, int],
    leader: str | None,
) -> tuple[WeightFlip, ...]:
    """For each criterion, the nearest weight at which another protocol would come first.

    All protocols share one weight total, so the leader `a` and a rival `b` swap
    places when raw(a) + d * r(a) = raw(b) + d * r(b): d = (raw(a) - raw(b)) / (r(b) - r(a)).
    """
    if len(ranking) < 2 or leader is None:
        return ()
    order = {protocol.slug: protocol.order for protocol in kb.protocols}
    flips = []
    for criterion in kb.criteria:
        weight = weights[criterion.slug]
        best: tuple[float, str] | None = None
        for rival in ranking:
            if rival.protocol == leader:
                continue
            gap = raw[leader] - raw[rival.protocol]
            rating_gap = kb.rating(rival.protocol, criterion.slug) - kb.rating(leader, criterion.slug)
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


def _answer_changes(
    kb: KnowledgeBase, counted: Answers, parts: list[Part], unknown: set[str]
) -> tuple[AnswerChange, ...]:
    """At most five single-answer changes that would change a part, cheapest and most realistic first.

    Tried: questions left open, and answered questions whose answer is a lever
    (cost above 0). Never offered: an option that weakens protection, a change
    to which flows exist, and, for answered questions, an answer that describes
    a harder situation (adding NAT is not a change anyone would make). Settling
    an open question comes first, then cheaper changes.
    """
    found = []
    for question in visible_questions(kb, counted):
        if question.lever_cost <= 0 and question.slug not in unknown:
            continue
        current = counted.get(question.slug, ())
        settles = question.slug in unknown
        for change, option, replaced, new_answer in _alternatives(question, current):
            offered = question.option(option)
            if change != "remove" and (offered.weakens or not (offered.offered_as_change or settles)):
                continue
            answers = {**counted, question.slug: new_answer}
            if question.slug in kb._openers:
                answers, _ = _split_answers(kb, answers)
            if flows_of(kb, answers) != tuple(part.flow for part in parts):
                continue
            for part in parts:
                outer, inner = _signature(kb, answers, part.flow)
                now = part.layers[1].protocol if len(part.layers) > 1 else None
                if (outer, inner) != (part.primary, now):
                    found.append(
                        AnswerChange(
                            question.slug,
                            change,
                            option,
                            outer,
                            replaced,
                            part.flow,
                            inner,
                            settles,
                        )
                    )
    positions = {q.slug: q.order for q in kb.questions}
    found.sort(
        key=lambda c: (
            not c.settles_open_question,
            kb.question(c.question).lever_cost,
            c.new_leader is None,
            positions[c.question],
            CHANGE_PREFERENCE.index(c.change),
            [o.slug for o in kb.question(c.question).options].index(c.option),
        )
    )
    # One way of saying each outcome per question: "drop only TCP 443" says what "open UDP instead" would.
    distinct = {(c.question, c.flow, c.new_leader, c.new_inner): c for c in reversed(found)}
    return tuple(sorted(distinct.values(), key=found.index)[:MAX_LEVERS])


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


def warnings(kb: KnowledgeBase, answers: Answers) -> tuple[Warning, ...]:
    """The consistency warnings alone, as `recommend` gives them: what the review shows before a design."""
    counted, _ = _split_answers(kb, answers)
    return _warnings(kb, counted)


def _warnings(kb: KnowledgeBase, counted: Answers) -> tuple[Warning, ...]:
    chosen = set(_pairs(counted))
    return tuple(
        Warning(rule.slug, rule.severity, rule.message, rule.references)
        for rule in kb.rules
        if rule.when_all <= chosen and not (rule.unless_any & chosen)
    )


# --- Explanations in sentences ------------------------------------------------------------------


def part_name(kb: KnowledgeBase, flow: str | None) -> str:
    found = kb.flow(flow)
    return found.name if found else "The traffic described"


def _label(kb: KnowledgeBase, pair: Pair) -> str:
    return kb.question(pair[0]).option(pair[1]).label


def _names(kb: KnowledgeBase, slugs: Iterable[str]) -> str:
    names = [kb.protocol(slug).name for slug in slugs]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _design_phrase(kb: KnowledgeBase, part: Part) -> str:
    if len(part.layers) > 1:
        outer, inner = part.layers
        second = "a second, independent " if inner.protocol == outer.protocol else ""
        return f"{kb.protocol(outer.protocol).name} as the outer layer with {second}{kb.protocol(inner.protocol).name} inside it"
    return kb.protocol(part.layers[0].protocol).name if part.layers else "no protocol"


def _summary(kb: KnowledgeBase, parts: list[Part]) -> str:
    """The decision in one or two sentences, part by part."""
    standing = [p for p in parts if p.layers]
    if not standing:
        return "No protocol meets every requirement of these answers; the design section names the ones that clash."
    if len(parts) == 1:
        part = parts[0]
        text = f"Use {_design_phrase(kb, part)}."
        if part.layered_by:
            text += " Two independent layers are required, so each is chosen on its own merits."
        return text
    pieces = [
        f"{part_name(kb, part.flow)}: {_design_phrase(kb, part) if part.layers else 'no protocol meets every requirement'}."
        for part in parts
    ]
    return f"A design in {len(parts)} parts. " + " ".join(pieces)


def _with_why(kb: KnowledgeBase, part: Part, counted: Answers, changes: list[AnswerChange]) -> Part:
    return Part(
        **{f.name: getattr(part, f.name) for f in fields(Part) if f.name != "why"},
        why=_why(kb, part, counted, changes),
    )


def _why(kb: KnowledgeBase, part: Part, counted: Answers, changes: list[AnswerChange]) -> tuple[str, ...]:
    """Why this part gets its protocol, in sentences built from the user's own answers.

    First what the leader does best on what the answers weigh most, then the
    user's requirements that ruled rivals out, then the runner-up's cost, or,
    for a close call or a tie, what would decide it. What the flow itself rules
    out (transport mode cannot serve remote users) is listed with the scores,
    and told here only when it alone explains the outcome.
    """
    if not part.layers:
        return (conflict_sentence(kb, part),)
    leader, rival = part.layers[0].protocol, part.runner_up
    binding = _binding_answers(kb, part)
    requirements = [row for row in binding if not kb._options[row[0]].names_flow]
    structural = [row for row in binding if kb._options[row[0]].names_flow] or requirements
    sentences = []
    strengths = _separating_criteria(kb, part, leader, rival)[:2] if rival else []
    if strengths:
        sentences.append(
            f"{kb.protocol(leader).name} best meets what your answers weigh most: "
            + "; ".join(_criterion_phrase(row) for row in strengths)
            + "."
        )
    if part.layered_by:
        labels = ", ".join(f"“{_label(kb, pair)}”" for pair in part.layered_by)
        outer, inner = (kb.protocol(layer.protocol).name for layer in part.layers)
        if part.layers[0].protocol == part.layers[1].protocol:
            inner = f"a second, independent {inner} from another implementation"
        sentences.append(
            f"{labels} demands two independent layers, so {outer} protects the network path and {inner} "
            "runs inside it with its own keys."
        )
    # A requirement is worth a sentence when, without it, a protocol it rules out would have won.
    decisive = []
    for pair, reasons in requirements:
        winner = _winner_without(kb, counted, part, pair)
        if any(winner in protocols for protocols in reasons.values()):
            decisive.append((pair, reasons, winner))
    if decisive:
        sentences += [
            _ruled_out_sentence(kb, pair, reasons, winner) for pair, reasons, winner in decisive[:2]
        ]
    elif not rival:
        sentences += [_ruled_out_sentence(kb, pair, reasons) for pair, reasons in structural[:1]]
    if rival is None:
        sentences.append(
            f"{kb.protocol(leader).name} is the only protocol left that meets every requirement."
        )
        return tuple(sentences)
    rival_name = kb.protocol(rival).name
    if part.margin == 0:
        sentences.append(
            f"It ties with {rival_name}: the knowledge base lists it first, which is no reason to prefer it. "
            + _decider(kb, part, changes, rival)
        )
    elif part.close_call:
        sentences.append(
            f"This is a close call: {rival_name} is only {part.margin:.1f} points behind. "
            + _decider(kb, part, changes, rival)
        )
    else:
        sentences.append(
            f"The runner-up, {rival_name}, meets every requirement too but is {part.margin:.1f} points behind."
            + _rival_gain(kb, part, rival)
        )
    return tuple(sentences)


def _winner_without(kb: KnowledgeBase, counted: Answers, part: Part, pair: Pair) -> str | None:
    """The protocol the part would get if `pair` had not been answered."""
    remaining = tuple(option for option in counted[pair[0]] if option != pair[1])
    answers = {slug: options for slug, options in counted.items() if slug != pair[0]}
    if remaining:
        answers[pair[0]] = remaining
    return _signature(kb, answers, part.flow)[0]


def _ruled_out_sentence(
    kb: KnowledgeBase, pair: Pair, reasons: dict[str, list[str]], winner: str | None = None
) -> str:
    """One answer and what it rules out, with the reason for the largest group and at most one other.

    With `winner`, the protocol that would have won without this answer, its group comes first.
    """
    groups = sorted(reasons.items(), key=lambda group: (winner not in group[1], -len(group[1])))
    (reason, protocols), others = groups[0], groups[1:]
    text = f"Your answer “{_label(kb, pair)}” rules out {_names(kb, protocols)}. {reason}"
    if winner is not None:
        text = (
            f"Without your answer “{_label(kb, pair)}”, {kb.protocol(winner).name} would have come first, "
            f"but the answer rules out {_names(kb, protocols)}. {reason}"
        )
    if len(others) == 1:
        other_reason, other_protocols = others[0]
        text += f" It also rules out {_names(kb, other_protocols)}. {other_reason}"
    elif others:
        rest = [protocol for _, group in others for protocol in group]
        text += f" It also rules out {_names(kb, rest)}, for the reasons listed with the scores."
    return text


def _binding_answers(kb: KnowledgeBase, part: Part) -> list[tuple[Pair, dict[str, list[str]]]]:
    """Each answer that rules protocols out of the part, in question order, with the protocols under each reason.

    A protocol is named once, under the first answer that rules it out.
    """
    positions = {q.slug: q.order for q in kb.questions}
    by_answer: dict[Pair, list[Exclusion]] = {}
    for exclusion in part.excluded:
        by_answer.setdefault((exclusion.question, exclusion.option), []).append(exclusion)
    named: set[str] = set()
    rows = []
    for pair in sorted(by_answer, key=lambda pair: positions[pair[0]]):
        reasons: dict[str, list[str]] = {}
        for exclusion in by_answer[pair]:
            if exclusion.protocol not in named:
                reasons.setdefault(exclusion.reason, []).append(exclusion.protocol)
                named.add(exclusion.protocol)
        if reasons:
            rows.append((pair, reasons))
    return rows


def _criterion_phrase(row: tuple[str, int, int, str]) -> str:
    criterion, ahead, behind, labels = row
    because = f"; it counts because of {labels}" if labels else ""
    return f"“{criterion}” (rated {ahead} against {behind}{because})"


def _rival_gain(kb: KnowledgeBase, part: Part, rival: str) -> str:
    """What the runner-up would have offered instead: where it beats the leader at this part's weights."""
    better = _separating_criteria(kb, part, rival, part.layers[0].protocol)[:2]
    if not better:
        return " It is not better on anything your answers weigh."
    return (
        " It would have been stronger only on "
        + " and ".join(f"“{row[0]}” ({row[1]} against {row[2]})" for row in better)
        + "."
    )


def _separating_criteria(
    kb: KnowledgeBase, part: Part, ahead: str, behind: str
) -> list[tuple[str, int, int, str]]:
    """Criteria where `ahead` gains most over `behind` at this part's weights, with up to two answers behind each."""
    rows = []
    for criterion in kb.criteria:
        weight = part.weights[criterion.slug]
        a, b = kb.rating(ahead, criterion.slug), kb.rating(behind, criterion.slug)
        if weight and a > b:
            labels = list(
                dict.fromkeys(
                    f"“{_label(kb, (s.question, s.option))}”"
                    for s in sorted(part.weight_sources, key=lambda s: -s.weight)
                    if s.criterion == criterion.slug and s.question and s.option
                )
            )[:2]
            rows.append((weight * (a - b), criterion.name, a, b, " and ".join(labels)))
    rows.sort(key=lambda row: -row[0])
    return [row[1:] for row in rows]


def _decider(kb: KnowledgeBase, part: Part, changes: list[AnswerChange], rival: str) -> str:
    """What would settle a close call: the cheapest answer change, else the criterion that separates them most."""
    for change in changes:
        if change.new_leader == rival:
            return f"What would decide it: {_change_phrase(kb, change)}."
    opposite = _separating_criteria(kb, part, rival, part.layers[0].protocol)
    if opposite:
        criterion, rival_rating, lead_rating, _ = opposite[0]
        return (
            f"What would decide it: how much “{criterion}” matters to you; "
            f"{kb.protocol(rival).name} is rated {rival_rating} there against {lead_rating}."
        )
    return "Weigh operating experience and existing equipment before choosing."


def conflict_sentence(kb: KnowledgeBase, part: Part) -> str:
    """For a part that nothing meets: which answers rule out which protocols, so the user can see the clash."""
    by_answer: dict[Pair, set[str]] = {}
    for exclusion in part.excluded:
        by_answer.setdefault((exclusion.question, exclusion.option), set()).add(exclusion.protocol)
    answers = ", ".join(f"“{_label(kb, pair)}”" for pair in by_answer)
    return (
        f"These requirements cannot all hold for “{part_name(kb, part.flow)}”: together, {answers} "
        "rule out every protocol. Revisit the answer that matters least."
    )


def _change_phrase(kb: KnowledgeBase, change: AnswerChange) -> str:
    question = kb.question(change.question)
    option = question.option(change.option)
    if change.change == "choose":
        return f"answering “{option.label}” to “{question.title}”"
    if change.change == "add":
        return f"adding “{option.label}” to “{question.title}”"
    if change.change == "remove":
        return f"dropping “{option.label}” from “{question.title}”"
    replaced = question.option(change.replaces).label if change.replaces else ""
    return f"answering “{option.label}” instead of “{replaced}” to “{question.title}”"


def describe_change(kb: KnowledgeBase, change: AnswerChange, *, name_part: bool = False) -> str:
    """One sentence: which different answer would put which protocol first, and for which part."""
    what = _change_phrase(kb, change)
    prefix = f"{part_name(kb, change.flow)}: " if name_part else ""
    if change.new_leader is None:
        outcome = "would leave no protocol standing"
    elif change.new_inner is not None and change.new_inner != change.new_leader:
        outcome = f"would make it {kb.protocol(change.new_leader).name} with {kb.protocol(change.new_inner).name} inside"
    else:
        outcome = f"would put {kb.protocol(change.new_leader).name} first"
    sentence = f"{what[0].upper()}{what[1:]} {outcome}."
    return prefix + (sentence if not prefix else sentence[0].lower() + sentence[1:])


# --- Plain data for JSON, the command line and report snapshots ----------------------------------

RESULT_FORMAT = 2
"""Version of the shape `as_dict` returns; reports store it so old snapshots keep rendering as issued."""


def as_dict(kb: KnowledgeBase, result: Recommendation) -> dict:
    """The whole recommendation as JSON-ready data, with names beside every slug."""
    criteria = {criterion.slug: criterion for criterion in kb.criteria}
    cited: dict[str, Reference] = {}

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

    def reference(slug: str) -> dict | None:
        found = kb.references.get(slug)
        if found is None:
            return None
        cited.setdefault(slug, found)
        return dataclass_dict(found)

    def references(slugs: Iterable[str]) -> list[dict]:
        return [ref for ref in (reference(slug) for slug in slugs) if ref]

    def cited_at(source: Source) -> dict | None:
        found = reference(source.reference)
        return None if found is None else {**found, "section": source.section}

    def guidance_item(slug: str) -> dict:
        item = kb.guidance_item(slug)
        return {
            "slug": item.slug,
            "kind": item.kind,
            "title": item.title,
            "text": item.text,
            "sources": [ref for ref in map(cited_at, item.sources) if ref],
        }

    def protocol_facts(slug: str) -> dict:
        protocol = kb.protocol(slug)
        return {
            "protocol": protocol_ref(slug),
            "summary": protocol.summary,
            "ports": protocol.ports,
            "strengths": list(protocol.strengths),
            "limitations": list(protocol.limitations),
            "references": references(protocol.references),
        }

    def part_dict(part: Part) -> dict:
        flow = kb.flow(part.flow)
        return {
            "flow": None if flow is None else {"slug": flow.slug, "name": flow.name},
            "name": part_name(kb, part.flow),
            "primary": protocol_ref(part.primary),
            "layers": [
                {"role": layer.role, "protocol": protocol_ref(layer.protocol), "mode": layer.mode}
                for layer in part.layers
            ],
            "runner_up": protocol_ref(part.runner_up),
            "margin": _round(part.margin),
            "close_call": part.close_call,
            "tie": part.margin == 0,
            "why": list(part.why),
            "conflict": conflict_sentence(kb, part) if not part.layers else None,
            "layered_by": [answer_ref(*pair) for pair in part.layered_by],
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
                for rank, score in enumerate(part.ranking, start=1)
            ],
            "excluded": [
                {
                    "protocol": protocol_ref(e.protocol),
                    **answer_ref(e.question, e.option),
                    "kind": e.kind,
                    "reason": e.reason,
                }
                for e in part.excluded
            ],
            "weights": [
                {
                    "criterion": slug,
                    "criterion_name": criteria[slug].name,
                    "weight": weight,
                    "from_answers": [
                        answer_ref(s.question, s.option) | {"weight": s.weight}
                        for s in part.weight_sources
                        if s.criterion == slug and s.question and s.option
                    ],
                }
                for slug, weight in part.weights.items()
            ],
            "sensitivity": [
                {
                    "criterion": flip.criterion,
                    "criterion_name": criteria[flip.criterion].name,
                    "weight": flip.weight,
                    "flip_at": _round(flip.flip_at),
                    "new_leader": protocol_ref(flip.new_leader),
                }
                for flip in part.sensitivity
            ],
            "protocols": [protocol_facts(slug) for slug in part.protocols],
            "guidance": [guidance_item(slug) for slug in part.guidance],
            "post_quantum": {
                "mechanisms": [guidance_item(slug) for slug in part.quantum],
                "urgency": guidance_item(part.urgency) if part.urgency else None,
            },
            "settings": {
                protocol: {
                    key: {
                        "values": [
                            line.strip() for line in kb.guidance_item(slug).text.splitlines() if line.strip()
                        ],
                        "sources": guidance_item(slug)["sources"],
                    }
                    for key, slug in keys.items()
                }
                for protocol, keys in part.settings.items()
            },
        }

    several = len(result.parts) > 1
    data = {
        "format": RESULT_FORMAT,
        "knowledge_base_version": result.knowledge_base_version,
        "kind": result.kind,
        "summary": result.summary,
        "primary": protocol_ref(result.primary),
        "parts": [part_dict(part) for part in result.parts],
        "answer_changes": [
            {
                **answer_ref(change.question, change.option),
                "change": change.change,
                "replaces": change.replaces,
                "flow": change.flow,
                "part": part_name(kb, change.flow),
                "new_leader": protocol_ref(change.new_leader),
                "new_inner": protocol_ref(change.new_inner),
                "settles_open_question": change.settles_open_question,
                "cost": kb.question(change.question).lever_cost,
                "sentence": describe_change(kb, change, name_part=several),
            }
            for change in result.answer_changes
        ],
        "warnings": [
            {
                "rule": w.rule,
                "severity": w.severity,
                "message": w.message,
                "references": references(w.references),
            }
            for w in result.warnings
        ],
        "answers": [answer_ref(q, o) for q, options in result.answers.items() for o in options],
        "ignored_answers": [
            answer_ref(q, o) for q, options in result.ignored_answers.items() for o in options
        ],
        "unknown": [{"question": q, "question_title": kb.question(q).title} for q in result.unknown],
        "assumptions": [
            {"question": a.question, "question_title": kb.question(a.question).title, "text": a.text}
            for a in result.assumptions
        ],
        "guidance": [guidance_item(slug) for slug in result.guidance],
    }
    data["references"] = [dataclass_dict(ref) for ref in sorted(cited.values(), key=lambda r: r.identifier)]
    return data


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
    if leader is None or wanted is None:
        return (f"{expected_name} is not ranked for these answers.",)
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
    'profile', 'rule', 'guidance' or 'flow') and its slugs, e.g. ('option', 'scope', 'unknown')."""


def _quoted(names: Iterable[str]) -> str:
    """“A”, “A and B”, “A, B and C”."""
    quoted = [f"“{name}”" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _option_words(kb: KnowledgeBase, pair: tuple[str, str]) -> str:
    """An answer as the admin shows it (“Question: Option”), or its slugs when it no longer exists."""
    if not kb.is_option(pair):
        return f"{pair[0]}/{pair[1]}"
    question = kb.question(pair[0])
    return f"{question.title}: {question.option(pair[1]).label}"


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
            target = kb.find_question(pair[0])
            if target is None or not kb.is_option(pair):
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
    """Answers that something else looks for: conditions of questions, warnings and guidance."""
    return set().union(
        *(q.condition for q in kb.questions),
        *(r.when_all | r.unless_any for r in kb.rules),
        *(g.when_all | g.when_any | g.unless_any for g in kb.guidance),
    )


def _options_without_effect(kb: KnowledgeBase) -> Iterator[IntegrityProblem]:
    used = _depended_on(kb)
    for question in kb.questions:
        for option in question.options:
            if (
                not option.is_unknown
                and not option.effects
                and option.flow is None
                and (question.slug, option.slug) not in used
            ):
                yield IntegrityProblem(
                    "option-without-effect",
                    _option_subject(question, option),
                    "Choosing it changes nothing: it has no effect, names no flow, and no question, warning "
                    "or guidance item depends on it. Add an effect, mark it “I don't know”, or delete it.",
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
                        f"It adds {effect.weight} to “{names.get(effect.criterion or '', effect.criterion)}”; "
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
        unknown = sorted(pair for pair in rule.when_all | rule.unless_any if not kb.is_option(pair))
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
                f"“{question.title if (question := kb.find_question(slug)) else slug}”: {message}"
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


def _unknown_answers(kb: KnowledgeBase, pairs: Iterable[Pair]) -> list[Pair]:
    return sorted(pair for pair in pairs if not kb.is_option(pair))


def _guidance_targets(kb: KnowledgeBase) -> Iterator[IntegrityProblem]:
    """Guidance must name real protocols, flows, answers and references, cite a source, and a mode its protocol."""
    for item in kb.guidance:
        subject = f"Guidance “{item.title}”"
        wrong = [
            *(f"protocol “{slug}”" for slug in sorted(item.protocols - kb._protocols.keys())),
            *(f"flow “{slug}”" for slug in sorted(item.flows - kb._flows.keys())),
            *(
                f"answer {q}/{o}"
                for q, o in _unknown_answers(kb, item.when_all | item.when_any | item.unless_any)
            ),
            *(f"reference “{s.reference}”" for s in item.sources if s.reference not in kb.references),
        ]
        if wrong:
            yield IntegrityProblem(
                "guidance-unknown-target",
                subject,
                f"It names {', '.join(wrong)}, which does not exist. Point it at existing records or remove them.",
                ("guidance", item.slug),
            )
        if not item.sources:
            yield IntegrityProblem(
                "guidance-without-source",
                subject,
                "It cites no source. Add the reference and section it rests on.",
                ("guidance", item.slug),
            )
        if item.kind == SETTING and not item.key:
            yield IntegrityProblem(
                "setting-without-key",
                subject,
                "A setting needs the key the configuration templates know it by. Give it one.",
                ("guidance", item.slug),
            )
        if item.kind in (MODE, QUANTUM, SETTING) and not item.protocols:
            yield IntegrityProblem(
                "mode-without-protocol",
                subject,
                "A mode or post-quantum mechanism describes a protocol, so it must name it. Choose its protocols.",
                ("guidance", item.slug),
            )


def _flow_targets(kb: KnowledgeBase) -> Iterator[IntegrityProblem]:
    """Options must name real flows, and every flow must be one that some answer can name."""
    named = set()
    for question in kb.questions:
        for option in question.options:
            named_flows = option.applies_to | ({option.flow} if option.flow else set())
            unknown = sorted(named_flows - kb._flows.keys())
            named.add(option.flow)
            if unknown:
                yield IntegrityProblem(
                    "option-unknown-flow",
                    _option_subject(question, option),
                    f"It names flow {_quoted(unknown)}, which does not exist. Choose an existing flow.",
                    ("option", question.slug, option.slug),
                )
    for flow in kb.flows:
        if flow.slug not in named:
            yield IntegrityProblem(
                "flow-never-named",
                f"Flow “{flow.name}”",
                "No option names it, so no design can have a part for it. Give it an option on the "
                "first question, or delete it.",
                ("flow", flow.slug),
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
    _guidance_targets,
    _flow_targets,
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
    that are gone, profiles whose answers no longer fit, guidance items that
    name what does not exist, and flows that do not exist.
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
            replace(
                option,
                effects=() if option.is_unknown else tuple(filter(sound, option.effects)),
                flow=option.flow if option.flow in kb._flows and not option.is_unknown else None,
                applies_to=option.applies_to & kb._flows.keys(),
            )
            for option in question.options
        )
        questions.append(replace(question, options=options, condition=condition))
        answers |= {(question.slug, option.slug) for option in options}
    named_flows = {option.flow for question in questions for option in question.options} - {None}
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
        flows=tuple(flow for flow in kb.flows if flow.slug in named_flows),
        guidance=tuple(
            item
            for item in kb.guidance
            if item.protocols <= kept_protocols
            and item.flows <= named_flows
            and (item.when_all | item.when_any | item.unless_any) <= answers
            and item.sources
            and all(source.reference in kb.references for source in item.sources)
            and (item.kind not in (MODE, QUANTUM, SETTING) or item.protocols)
            and (item.kind != SETTING or item.key)
        ),
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
    question = kb.find_question(slug)
    if question is None:
        return f"The question “{slug}” has been removed, so its answer no longer counts."
    gone = [option for option in options if question.find_option(option) is None]
    if gone:
        verb = "is no longer an option" if len(gone) == 1 else "are no longer options"
        return f"{_quoted(gone)} {verb} of “{question.title}”; answer it again."
    return f"Your answer to “{question.title}” no longer fits: {error[0].lower()}{error[1:]} Answer it again."
