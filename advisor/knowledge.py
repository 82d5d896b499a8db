"""Turns the knowledge-base models into the engine's immutable snapshot, cached per version.

Every change to the knowledge base creates a `KnowledgeBaseVersion` row, so the
newest version number is a complete cache key: each request pays one indexed
query for it, and every process rebuilds its snapshot the moment another
process (an admin's save) has moved the number on.

Admins edit one record at a time, so a version can be unfit to serve (a new
criterion that nobody has rated yet). Each build is checked once; while it has
problems the site keeps serving the newest sound snapshot this process has
built, or, in a process that has never seen one, a repaired copy without what
is broken. The admin shows the problems until they are fixed.
"""

from __future__ import annotations

import logging
import threading
from contextlib import nullcontext
from dataclasses import dataclass
from types import MappingProxyType

from django.db import transaction

from advisor import engine, models

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class State:
    """One version of the knowledge base: as built, its problems, and the snapshot the site serves for it."""

    live: engine.KnowledgeBase
    problems: tuple[engine.IntegrityProblem, ...]
    good: engine.KnowledgeBase | None
    """The newest snapshot without problems that this process has built; `live` itself when it is sound."""
    served: engine.KnowledgeBase

    @property
    def repaired(self) -> bool:
        """Whether the site serves `live` without what is broken, having no sound snapshot to fall back on."""
        return self.served is not self.good


_cache: State | None = None
_lock = threading.Lock()


def current() -> engine.KnowledgeBase:
    """The snapshot the site serves: the knowledge base as it is now, unless that has problems."""
    return state().served


def state() -> State:
    """The knowledge base as it is now and what is served for it, built and checked once per version."""
    global _cache
    version = models.KnowledgeBaseVersion.current_number()
    cached = _cache
    if cached is not None and cached.live.version == version:
        return cached
    # A caller inside a transaction may hold SQLite's write lock, which a build under the lock in
    # another thread would wait for while this thread waited for the lock: it builds without the lock.
    with nullcontext() if transaction.get_connection().in_atomic_block else _lock:
        if _cache is not None and _cache.live.version == version:
            return _cache
        _cache = _checked(build(), _cache)
        return _cache


def _checked(live: engine.KnowledgeBase, previous: State | None) -> State:
    problems = engine.integrity_problems(live)
    if not problems:
        return State(live, problems, good=live, served=live)
    good = previous.good if previous is not None else None
    if good is not None:
        served, serving = good, f"version {good.version}, the newest without problems,"
    else:
        served, serving = engine.repaired(live), "a repaired copy without what is broken"
    logger.warning(
        "Knowledge base version %s has %s integrity problem%s; serving %s until they are fixed: %s",
        live.version,
        len(problems),
        "" if len(problems) == 1 else "s",
        serving,
        " ".join(f"{problem.subject}: {problem.message}" for problem in problems),
    )
    return State(live, problems, good=good, served=served)


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _slugs(references) -> tuple[str, ...]:
    return tuple(reference.slug for reference in references)


def _pairs(options) -> frozenset[tuple[str, str]]:
    return frozenset((option.question.slug, option.slug) for option in options)


@transaction.atomic
def build() -> engine.KnowledgeBase:
    """Read the whole knowledge base in a fixed number of queries, inside one transaction."""
    version = models.KnowledgeBaseVersion.current_number()
    references = {
        reference.slug: engine.Reference(
            reference.slug,
            reference.identifier,
            reference.title,
            reference.publisher,
            reference.year,
            reference.url,
        )
        for reference in models.Reference.objects.all()
    }
    protocols = tuple(
        engine.Protocol(
            slug=protocol.slug,
            name=protocol.name,
            family=protocol.family,
            layer=protocol.layer,
            order=protocol.order,
            summary=protocol.summary,
            strengths=_lines(protocol.strengths),
            limitations=_lines(protocol.limitations),
            mode=protocol.mode,
            ports=protocol.ports,
            references=_slugs(protocol.references.all()),
        )
        for protocol in models.Protocol.objects.prefetch_related("references")
    )
    flows = tuple(
        engine.Flow(flow.slug, flow.name, flow.description, flow.order) for flow in models.Flow.objects.all()
    )
    criteria = tuple(
        engine.Criterion(
            criterion.slug, criterion.name, criterion.description, criterion.base_weight, criterion.order
        )
        for criterion in models.Criterion.objects.all()
    )
    ratings = {
        (rating.protocol.slug, rating.criterion.slug): engine.Rating(
            rating.protocol.slug,
            rating.criterion.slug,
            rating.score,
            rating.rationale,
            _slugs(rating.references.all()),
        )
        for rating in models.Rating.objects.select_related("protocol", "criterion").prefetch_related(
            "references"
        )
    }
    questions = tuple(
        engine.Question(
            slug=question.slug,
            order=question.order,
            title=question.title,
            text=question.text,
            help_text=question.help_text,
            kind=question.kind,
            required=question.required,
            options=tuple(
                engine.Option(
                    slug=option.slug,
                    label=option.label,
                    is_unknown=option.is_unknown,
                    effects=tuple(
                        engine.Effect(
                            kind=effect.kind,
                            criterion=effect.criterion.slug if effect.criterion else None,
                            weight=effect.weight or 0,
                            protocol=effect.protocol.slug if effect.protocol else None,
                            reason=effect.reason,
                        )
                        for effect in option.effects.all()
                    ),
                    help_text=option.help_text,
                    flow=option.flow.slug if option.flow else None,
                    applies_to=frozenset(flow.slug for flow in option.applies_to.all()),
                    weakens=option.weakens_protection,
                    offered_as_change=option.offered_as_change,
                )
                for option in question.options.all()
            ),
            condition=frozenset(
                (option.question.slug, option.slug) for option in question.condition_options.all()
            ),
            assumption=question.assumption,
            lever_cost=question.lever_cost,
        )
        for question in models.Question.objects.prefetch_related(
            "options__effects__criterion",
            "options__effects__protocol",
            "options__flow",
            "options__applies_to",
            "condition_options__question",
        )
    )
    profiles = []
    for profile in models.UseCaseProfile.objects.select_related("expected_protocol").prefetch_related(
        "answers__option__question", "references"
    ):
        answers: dict[str, tuple[str, ...]] = {}
        for answer in profile.answers.all():
            question = answer.option.question.slug
            answers[question] = (*answers.get(question, ()), answer.option.slug)
        profiles.append(
            engine.Profile(
                slug=profile.slug,
                name=profile.name,
                description=profile.description,
                expected_protocol=profile.expected_protocol.slug,
                expected_rationale=profile.expected_rationale,
                answers=MappingProxyType(answers),
                references=_slugs(profile.references.all()),
            )
        )
    rules = tuple(
        engine.Rule(
            slug=rule.slug,
            message=rule.message,
            severity=rule.severity,
            when_all=_pairs(rule.when_all.all()),
            unless_any=_pairs(rule.unless_any.all()),
            references=_slugs(rule.references.all()),
        )
        for rule in models.ConsistencyRule.objects.prefetch_related(
            "when_all__question", "unless_any__question", "references"
        )
    )
    guidance = tuple(
        engine.Guidance(
            slug=item.slug,
            kind=item.kind,
            title=item.title,
            text=item.text,
            order=item.order,
            protocols=frozenset(p.slug for p in item.protocols.all()),
            flows=frozenset(f.slug for f in item.flows.all()),
            when_all=_pairs(item.when_all.all()),
            when_any=_pairs(item.when_any.all()),
            unless_any=_pairs(item.unless_any.all()),
            sources=tuple(engine.Source(s.reference.slug, s.section) for s in item.sources.all()),
            key=item.key,
        )
        for item in models.Guidance.objects.prefetch_related(
            "protocols",
            "flows",
            "when_all__question",
            "when_any__question",
            "unless_any__question",
            "sources__reference",
        )
    )
    return engine.KnowledgeBase(
        version=version,
        protocols=protocols,
        criteria=criteria,
        ratings=MappingProxyType(ratings),
        questions=questions,
        profiles=tuple(profiles),
        references=MappingProxyType(references),
        rules=rules,
        flows=flows,
        guidance=guidance,
    )
