"""What an edit to the knowledge base would do to the advice, measured before it is saved.

The edit is applied inside a transaction that is rolled back; the knowledge
base is built from inside it and every use-case profile runs through the
engine on both sides. Nothing is cached or recorded: the site never sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from advisor import engine, knowledge, versioning

MARGIN_STEP = 0.05
"""Margins are shown to one decimal; a smaller move is no change to the reader."""


@dataclass(frozen=True)
class ProfileImpact:
    """One profile's design and margin with the knowledge base as served now and after the edit."""

    name: str
    slug: str
    expected: str
    before: str
    after: str
    margin_before: float | None
    margin_after: float | None
    guidance_added: tuple[str, ...]
    guidance_removed: tuple[str, ...]
    agrees_before: bool
    agrees_after: bool
    """Whether the first part's protocol is the one the profile's experts expect."""

    @property
    def pick_changed(self) -> bool:
        return self.before != self.after

    @property
    def margin_changed(self) -> bool:
        if self.margin_before is None or self.margin_after is None:
            return self.margin_before != self.margin_after
        return abs(self.margin_after - self.margin_before) >= MARGIN_STEP

    @property
    def changed(self) -> bool:
        return self.pick_changed or self.margin_changed or bool(self.guidance_changed)

    @property
    def guidance_changed(self) -> int:
        return len(self.guidance_added) + len(self.guidance_removed)


@dataclass(frozen=True)
class Impact:
    """Every profile's change, and the problems the edit would add to the knowledge base."""

    profiles: tuple[ProfileImpact, ...]
    problems: tuple[engine.IntegrityProblem, ...]
    """Problems the edit adds; while any remain, the site keeps serving `served_version`."""
    served_version: int

    @property
    def changed(self) -> tuple[ProfileImpact, ...]:
        return tuple(row for row in self.profiles if row.changed)

    @property
    def unchanged_count(self) -> int:
        return len(self.profiles) - len(self.changed)

    @property
    def picks_changed(self) -> int:
        return sum(row.pick_changed for row in self.profiles)


def _servable(kb: engine.KnowledgeBase, problems) -> engine.KnowledgeBase:
    return engine.repaired(kb) if problems else kb


def _design(kb: engine.KnowledgeBase, result: engine.Recommendation) -> str:
    names = dict.fromkeys(kb.protocol(p).name for part in result.parts for p in part.protocols)
    return " + ".join(names) or "no protocol"


def _guidance(kb: engine.KnowledgeBase, result: engine.Recommendation) -> dict[str, str]:
    slugs = [*result.guidance, *(slug for part in result.parts for slug in part.guidance)]
    return {slug: kb.guidance_item(slug).title for slug in slugs}


def compare(before: engine.KnowledgeBase, after: engine.KnowledgeBase) -> tuple[ProfileImpact, ...]:
    """Each profile of `after` run on both snapshots; a profile new in `after` counts from nothing."""
    rows = []
    for profile in after.profiles:
        new = engine.recommend(after, profile.answers)
        old_profile = before.profile(profile.slug)
        old = engine.recommend(before, old_profile.answers) if old_profile else None
        old_guidance = _guidance(before, old) if old else {}
        new_guidance = _guidance(after, new)
        rows.append(
            ProfileImpact(
                name=profile.name,
                slug=profile.slug,
                expected=after.protocol(profile.expected_protocol).name,
                before=_design(before, old) if old else "not a profile yet",
                after=_design(after, new),
                margin_before=old.margin if old else None,
                margin_after=new.margin,
                guidance_added=tuple(t for s, t in new_guidance.items() if s not in old_guidance),
                guidance_removed=tuple(t for s, t in old_guidance.items() if s not in new_guidance),
                agrees_before=old is not None and old.primary == profile.expected_protocol,
                agrees_after=new.primary == profile.expected_protocol,
            )
        )
    return tuple(rows)


def measure(apply: Callable[[], None]) -> Impact:
    """Run `apply` (which saves the edit) in a transaction that is rolled back, and compare the advice.

    Both sides are the knowledge base as it is (without what is broken, if anything is), so problems
    left by earlier edits do not count as this edit's impact.
    """
    state = knowledge.state()
    with transaction.atomic(), versioning.recorded_elsewhere():
        apply()
        after = knowledge.build()
        transaction.set_rollback(True)
    problems = engine.integrity_problems(after)
    profiles = compare(_servable(state.live, state.problems), _servable(after, problems))
    added = tuple(problem for problem in problems if problem not in state.problems)
    return Impact(profiles=profiles, problems=added, served_version=state.served.version)
