"""Small knowledge bases built in code, for engine tests that need no database."""

from __future__ import annotations

from types import MappingProxyType

from advisor import engine


def protocol(slug: str, order: int, family: str = "tls", layer: str = "application") -> engine.Protocol:
    return engine.Protocol(slug, slug.upper(), family, layer, order, "", (), (), f"{slug} mode", "", ("ref",))


def option(
    slug: str,
    *effects: engine.Effect,
    unknown: bool = False,
    flow: str | None = None,
    applies_to: frozenset[str] = frozenset(),
    weakens: bool = False,
    offered: bool = True,
) -> engine.Option:
    return engine.Option(
        slug,
        slug.replace("-", " "),
        unknown,
        tuple(effects),
        flow=flow,
        applies_to=applies_to,
        weakens=weakens,
        offered_as_change=offered,
    )


def weight(criterion: str, amount: int) -> engine.Effect:
    return engine.Effect(engine.WEIGHT, criterion=criterion, weight=amount)


def exclude(protocol_slug: str, reason: str = "not possible here") -> engine.Effect:
    return engine.Effect(engine.EXCLUDE, protocol=protocol_slug, reason=reason)


def require(protocol_slug: str, reason: str = "mandated") -> engine.Effect:
    return engine.Effect(engine.REQUIRE, protocol=protocol_slug, reason=reason)


def layers(reason: str = "two independent layers are mandated") -> engine.Effect:
    return engine.Effect(engine.LAYERS, reason=reason)


def question(
    slug: str,
    order: int,
    *options: engine.Option,
    kind: str = "single",
    required: bool = True,
    condition: frozenset = frozenset(),
    lever_cost: int = 3,
    assumption: str = "",
) -> engine.Question:
    return engine.Question(
        slug,
        order,
        slug.title(),
        f"{slug}?",
        "",
        kind,
        required,
        tuple(options),
        condition,
        assumption=assumption,
        lever_cost=lever_cost,
    )


def profile(slug: str, expected: str, answers: dict[str, tuple[str, ...]]) -> engine.Profile:
    return engine.Profile(
        slug, slug.replace("-", " ").title(), "", expected, "", MappingProxyType(answers), ()
    )


def rule(
    slug: str, when_all: set[tuple[str, str]], unless_any: set[tuple[str, str]] = frozenset()
) -> engine.Rule:
    return engine.Rule(slug, f"{slug} applies.", "risk", frozenset(when_all), frozenset(unless_any), ())


def knowledge_base(
    ratings: dict[str, dict[str, int]],
    questions: tuple[engine.Question, ...] = (),
    *,
    base_weights: dict[str, int] | None = None,
    families: dict[str, tuple[str, str]] | None = None,
    rules: tuple[engine.Rule, ...] = (),
    flows: tuple[str, ...] = (),
    guidance: tuple[engine.Guidance, ...] = (),
    profiles: tuple[engine.Profile, ...] = (),
) -> engine.KnowledgeBase:
    """`ratings` maps protocol slug -> criterion slug -> score; the order of protocols is their order."""
    criteria_slugs = list(next(iter(ratings.values())))
    base_weights = base_weights or {}
    families = families or {}
    protocols = tuple(
        protocol(slug, order, *families.get(slug, ("tls", "application")))
        for order, slug in enumerate(ratings, start=1)
    )
    criteria = tuple(
        engine.Criterion(slug, slug.replace("-", " ").title(), "", base_weights.get(slug, 1), order)
        for order, slug in enumerate(criteria_slugs, start=1)
    )
    rating_map = {
        (p, c): engine.Rating(p, c, score, f"{p} on {c}", ("ref",))
        for p, scores in ratings.items()
        for c, score in scores.items()
    }
    reference = engine.Reference("ref", "RFC 0000", "A reference", "IETF", 2020, "https://example.org")
    return engine.KnowledgeBase(
        version=1,
        protocols=protocols,
        criteria=criteria,
        ratings=MappingProxyType(rating_map),
        questions=questions,
        profiles=profiles,
        references=MappingProxyType({"ref": reference}),
        rules=rules,
        flows=tuple(
            engine.Flow(slug, slug.replace("-", " ").capitalize(), "", i) for i, slug in enumerate(flows)
        ),
        guidance=guidance,
    )
