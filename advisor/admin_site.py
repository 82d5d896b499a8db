"""The admin site: Django's, with the knowledge base's integrity problems on every page until they are fixed.

It lives apart from admin.py because Django creates the default site while
admin modules register their models with it.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse

from advisor import engine, knowledge
from advisor.models import (
    ConsistencyRule,
    Criterion,
    Flow,
    Guidance,
    Option,
    Protocol,
    Question,
    Rating,
    UseCaseProfile,
)


class AdvisorAdminSite(admin.AdminSite):
    """The admin, with the knowledge base's integrity problems at the top of every page until they are fixed."""

    site_header = "Protocol Advisor"
    site_title = "Protocol Advisor admin"
    index_title = "Knowledge base"

    def each_context(self, request):
        context = super().each_context(request)
        if context["has_permission"]:
            state = knowledge.state()
            if state.problems:
                context["integrity"] = {
                    "problems": problem_links(state.problems),
                    "served": state.served,
                    "repaired": state.repaired,
                }
        return context


RECORDS = {
    "protocol": (Protocol, ("slug",)),
    "criterion": (Criterion, ("slug",)),
    "rating": (Rating, ("protocol__slug", "criterion__slug")),
    "question": (Question, ("slug",)),
    "option": (Option, ("question__slug", "slug")),
    "profile": (UseCaseProfile, ("slug",)),
    "rule": (ConsistencyRule, ("slug",)),
    "guidance": (Guidance, ("slug",)),
    "flow": (Flow, ("slug",)),
}
"""The models behind the records that integrity problems name, and the fields that hold their slugs."""


def problem_links(problems: tuple[engine.IntegrityProblem, ...]) -> list[dict]:
    """Each problem with the admin page of its record, found with one query per kind of record."""
    wanted: dict[str, set[tuple[str, ...]]] = {}
    for problem in problems:
        if problem.record and problem.record[0] in RECORDS:
            wanted.setdefault(problem.record[0], set()).add(problem.record[1:])
    urls = {}
    for kind, keys in wanted.items():
        model, slug_fields = RECORDS[kind]
        found = model._default_manager.filter(**{f"{slug_fields[-1]}__in": {key[-1] for key in keys}})
        for *key, pk in found.values_list(*slug_fields, "pk"):
            if tuple(key) in keys:
                urls[kind, *key] = reverse(f"admin:advisor_{model._meta.model_name}_change", args=[pk])
    return [{"problem": problem, "url": urls.get(problem.record)} for problem in problems]
