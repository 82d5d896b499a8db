"""Turns the knowledge-base models into the engine's immutable snapshot, cached per version.

Every change to the knowledge base creates a `KnowledgeBaseVersion` row, so the
newest version number is a complete cache key: each request pays one indexed
query for it, and every process rebuilds its snapshot the moment another
process (an admin's save) has moved the number on.
"""

from __future__ import annotations

import threading
from types import MappingProxyType

from django.db import transaction

from advisor import engine, models

_cache: tuple[int, engine.KnowledgeBase] | None = None
_lock = threading.Lock()


def current() -> engine.KnowledgeBase:
    """The snapshot of the knowledge base as it is now."""
    global _cache
    version = models.KnowledgeBaseVersion.current_number()
    cached = _cache
    if cached is not None and cached[0] == version:
        return cached[1]
    with _lock:
        if _cache is not None and _cache[0] == version:
            return _cache[1]
        snapshot = build()
        _cache = (snapshot.version, snapshot)
        return snapshot


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
