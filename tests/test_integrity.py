"""Integrity checks on small, hand-built knowledge bases: each problem an admin edit can cause is found."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import pytest

from advisor import engine
from tests.builders import exclude, knowledge_base, option, profile, question, require, rule, weight

RATINGS = {
    "alpha": {"speed": 5, "reach": 1, "cost": 3},
    "beta": {"speed": 2, "reach": 5, "cost": 3},
    "gamma": {"speed": 3, "reach": 3, "cost": 1},
}
QUESTIONS = (
    question(
        "need",
        1,
        option("fast", weight("speed", 3)),
        option("far", weight("reach", 3)),
        option("dunno", unknown=True),
    ),
    question(
        "limits",
        2,
        option("no-alpha", exclude("alpha")),
        option("only-gamma", require("gamma")),
        option("cheap", weight("cost", 2)),
        kind="multiple",
        required=False,
    ),
    question(
        "follow-up",
        3,
        option("yes", weight("speed", 1)),
        option("no", weight("reach", 1)),
        condition=frozenset({("need", "far")}),
    ),
)
SOUND = knowledge_base(
    RATINGS,
    QUESTIONS,
    rules=(rule("fast-without-alpha", {("need", "fast"), ("limits", "no-alpha")}, {("limits", "cheap")}),),
    profiles=(profile("speedy", "alpha", {"need": ("fast",)}),),
)


def item(**changes) -> engine.Guidance:
    """A guidance item that is sound until `changes` break it."""
    sound = engine.Guidance(
        "check-it",
        "checklist",
        "Check it",
        "Check the configuration.",
        protocols=frozenset({"alpha"}),
        sources=(engine.Source("ref", "section 1"),),
    )
    return replace(sound, **changes)


def with_question(kb: engine.KnowledgeBase, slug: str, **changes) -> engine.KnowledgeBase:
    return replace(kb, questions=tuple(replace(q, **changes) if q.slug == slug else q for q in kb.questions))


def with_options(kb: engine.KnowledgeBase, slug: str, *options: engine.Option) -> engine.KnowledgeBase:
    current = kb.question(slug).options
    return with_question(kb, slug, options=current + options)


def without_rating(kb: engine.KnowledgeBase, protocol: str, criterion: str) -> engine.KnowledgeBase:
    return replace(
        kb, ratings=MappingProxyType({k: r for k, r in kb.ratings.items() if k != (protocol, criterion)})
    )


def with_rating(kb: engine.KnowledgeBase, protocol: str, criterion: str, score: int) -> engine.KnowledgeBase:
    ratings = dict(kb.ratings)
    ratings[protocol, criterion] = replace(ratings[protocol, criterion], score=score)
    return replace(kb, ratings=MappingProxyType(ratings))


def new_criterion(kb: engine.KnowledgeBase) -> engine.KnowledgeBase:
    return replace(kb, criteria=(*kb.criteria, engine.Criterion("latency", "Latency", "", 1, 9)))


def new_protocol(kb: engine.KnowledgeBase) -> engine.KnowledgeBase:
    delta = engine.Protocol("delta", "DELTA", "tls", "application", 9, "", (), (), (), "", ())
    return replace(kb, protocols=(*kb.protocols, delta))


def test_the_sound_knowledge_base_has_no_problems():
    assert engine.integrity_problems(SOUND) == ()


BREAKAGES = [
    pytest.param(
        lambda kb: without_rating(kb, "beta", "reach"),
        "rating-missing",
        "Criterion “Reach”",
        ("criterion", "reach"),
        id="one-rating-missing",
    ),
    pytest.param(
        new_criterion, "rating-missing", "Criterion “Latency”", ("criterion", "latency"), id="new-criterion"
    ),
    pytest.param(
        new_protocol, "rating-missing", "Protocol “DELTA”", ("protocol", "delta"), id="new-protocol"
    ),
    pytest.param(
        lambda kb: with_rating(kb, "gamma", "cost", 7),
        "rating-out-of-range",
        "Rating of GAMMA on Cost",
        ("rating", "gamma", "cost"),
        id="rating-above-five",
    ),
    pytest.param(
        lambda kb: replace(kb, criteria=(replace(kb.criteria[0], base_weight=-1), *kb.criteria[1:])),
        "weight-negative",
        "Criterion “Speed”",
        ("criterion", "speed"),
        id="negative-base-weight",
    ),
    pytest.param(
        lambda kb: with_options(kb, "limits", option("slower", weight("speed", -2))),
        "weight-negative",
        "Option “Limits: slower”",
        ("option", "limits", "slower"),
        id="negative-effect-weight",
    ),
    pytest.param(
        lambda kb: with_question(kb, "follow-up", options=(option("yes", weight("speed", 1)),)),
        "question-too-few-options",
        "Question “Follow-Up”",
        ("question", "follow-up"),
        id="one-option",
    ),
    pytest.param(
        lambda kb: with_question(kb, "follow-up", condition=frozenset({("follow-up", "yes")})),
        "condition-not-earlier",
        "Question “Follow-Up”",
        ("question", "follow-up"),
        id="condition-on-itself",
    ),
    pytest.param(
        lambda kb: with_question(kb, "limits", condition=frozenset({("follow-up", "yes")})),
        "condition-not-earlier",
        "Question “Limits”",
        ("question", "limits"),
        id="condition-on-a-later-question",
    ),
    pytest.param(
        lambda kb: with_question(kb, "follow-up", condition=frozenset({("need", "further")})),
        "condition-unknown-option",
        "Question “Follow-Up”",
        ("question", "follow-up"),
        id="condition-on-a-renamed-option",
    ),
    pytest.param(
        lambda kb: with_options(kb, "need", option("maybe")),
        "option-without-effect",
        "Option “Need: maybe”",
        ("option", "need", "maybe"),
        id="option-that-does-nothing",
    ),
    pytest.param(
        lambda kb: with_options(kb, "limits", option("no-idea", weight("cost", 1), unknown=True)),
        "unknown-option-has-effects",
        "Option “Limits: no idea”",
        ("option", "limits", "no-idea"),
        id="i-dont-know-with-an-effect",
    ),
    pytest.param(
        lambda kb: with_options(kb, "limits", option("quick", weight("latency", 2))),
        "effect-unknown-criterion",
        "Option “Limits: quick”",
        ("option", "limits", "quick"),
        id="weight-on-an-unknown-criterion",
    ),
    pytest.param(
        lambda kb: with_options(kb, "limits", option("no-delta", exclude("delta"))),
        "effect-unknown-protocol",
        "Option “Limits: no delta”",
        ("option", "limits", "no-delta"),
        id="exclude-an-unknown-protocol",
    ),
    pytest.param(
        lambda kb: with_options(kb, "limits", option("only-delta", require("delta"))),
        "effect-unknown-protocol",
        "Option “Limits: only delta”",
        ("option", "limits", "only-delta"),
        id="require-an-unknown-protocol",
    ),
    pytest.param(
        lambda kb: replace(kb, rules=(rule("odd", {("need", "fast")}, {("limits", "gone")}),)),
        "rule-unknown-option",
        "Consistency warning “odd”",
        ("rule", "odd"),
        id="warning-silenced-by-an-unknown-option",
    ),
    pytest.param(
        lambda kb: replace(kb, rules=(rule("always", set()),)),
        "rule-without-trigger",
        "Consistency warning “always”",
        ("rule", "always"),
        id="warning-without-trigger",
    ),
    pytest.param(
        lambda kb: replace(kb, profiles=(profile("speedy", "delta", {"need": ("fast",)}),)),
        "profile-unknown-protocol",
        "Use-case profile “Speedy”",
        ("profile", "speedy"),
        id="profile-expects-an-unknown-protocol",
    ),
    pytest.param(
        lambda kb: replace(kb, profiles=(profile("speedy", "alpha", {"need": ("rapid",)}),)),
        "profile-invalid-answers",
        "Use-case profile “Speedy”",
        ("profile", "speedy"),
        id="profile-answer-renamed",
    ),
    pytest.param(
        lambda kb: replace(kb, profiles=(profile("speedy", "alpha", {"need": ("far",)}),)),
        "profile-invalid-answers",
        "Use-case profile “Speedy”",
        ("profile", "speedy"),
        id="profile-misses-a-required-answer",
    ),
    pytest.param(
        lambda kb: replace(kb, guidance=(item(when_all=frozenset({("need", "rapid")})),)),
        "guidance-unknown-target",
        "Guidance “Check it”",
        ("guidance", "check-it"),
        id="guidance-on-a-renamed-option",
    ),
    pytest.param(
        lambda kb: replace(kb, guidance=(item(protocols=frozenset({"delta"})),)),
        "guidance-unknown-target",
        "Guidance “Check it”",
        ("guidance", "check-it"),
        id="guidance-for-a-deleted-protocol",
    ),
    pytest.param(
        lambda kb: replace(kb, guidance=(item(sources=()),)),
        "guidance-without-source",
        "Guidance “Check it”",
        ("guidance", "check-it"),
        id="guidance-without-source",
    ),
    pytest.param(
        lambda kb: replace(kb, guidance=(item(kind=engine.MODE, protocols=frozenset()),)),
        "mode-without-protocol",
        "Guidance “Check it”",
        ("guidance", "check-it"),
        id="mode-without-protocol",
    ),
    pytest.param(
        lambda kb: with_options(kb, "limits", option("portal", weight("cost", 1), flow="portal")),
        "option-unknown-flow",
        "Option “Limits: portal”",
        ("option", "limits", "portal"),
        id="option-names-a-deleted-flow",
    ),
    pytest.param(
        lambda kb: replace(kb, flows=(engine.Flow("orphan", "Orphan", "", 1),)),
        "flow-never-named",
        "Flow “Orphan”",
        ("flow", "orphan"),
        id="flow-no-option-names",
    ),
]


@pytest.mark.parametrize(("breakage", "code", "subject", "record"), BREAKAGES)
def test_each_problem_is_found_and_names_the_record_to_fix(breakage, code, subject, record):
    problems = engine.integrity_problems(breakage(SOUND))
    assert [(p.code, p.subject, p.record) for p in problems] == [(code, subject, record)]
    assert problems[0].message.endswith(".")


def test_a_new_criterion_is_one_problem_that_names_every_protocol():
    (problem,) = engine.integrity_problems(new_criterion(SOUND))
    assert problem.message == "Not rated for “ALPHA”, “BETA” and “GAMMA”. Rate every protocol on it."


def test_a_new_protocol_is_one_problem_that_names_every_criterion():
    (problem,) = engine.integrity_problems(new_protocol(SOUND))
    assert problem.message == "Not rated on “Speed”, “Reach” and “Cost”. Rate it on every criterion."


def test_an_option_without_effects_that_opens_a_question_or_triggers_a_warning_is_fine():
    opener = with_options(SOUND, "need", option("maybe"))
    opener = with_question(opener, "follow-up", condition=frozenset({("need", "far"), ("need", "maybe")}))
    assert engine.integrity_problems(opener) == ()
    trigger = with_options(SOUND, "need", option("maybe"))
    trigger = replace(trigger, rules=(rule("unsure", {("need", "maybe")}),))
    assert engine.integrity_problems(trigger) == ()
    guided = with_options(SOUND, "need", option("maybe"))
    guided = replace(guided, guidance=(item(when_any=frozenset({("need", "maybe")})),))
    assert engine.integrity_problems(guided) == ()


def test_profile_problems_say_which_answer_is_wrong():
    kb = replace(SOUND, profiles=(profile("speedy", "alpha", {"need": ("rapid",)}),))
    (problem,) = engine.integrity_problems(kb)
    assert "“Need”: Not an option of this question: rapid." in problem.message


def test_several_problems_are_all_listed():
    kb = new_criterion(with_options(SOUND, "need", option("maybe")))
    assert {p.code for p in engine.integrity_problems(kb)} == {"rating-missing", "option-without-effect"}


def test_a_check_is_added_by_listing_it(monkeypatch):
    def unfinished_questions(kb):
        for q in kb.questions:
            if q.title == "Todo":
                yield engine.IntegrityProblem("question-unfinished", f"Question “{q.title}”", "Finish it.")

    monkeypatch.setattr(engine, "INTEGRITY_CHECKS", (*engine.INTEGRITY_CHECKS, unfinished_questions))
    kb = with_question(SOUND, "limits", title="Todo")
    assert [p.code for p in engine.integrity_problems(kb)] == ["question-unfinished"]


HARMLESS = {"option-without-effect"}
"""What a repair may leave: an option whose only effect went with what was broken changes nothing."""


def test_repairing_a_sound_knowledge_base_changes_nothing():
    assert engine.repaired(SOUND) == SOUND
    guided = replace(SOUND, guidance=(item(),))
    assert engine.repaired(guided) == guided


def test_repair_drops_guidance_that_names_what_is_gone():
    kb = engine.repaired(
        replace(SOUND, guidance=(item(), item(slug="stale", when_all=frozenset({("need", "x")}))))
    )
    assert [g.slug for g in kb.guidance] == ["check-it"]


@pytest.mark.parametrize(("breakage", "code", "subject", "record"), BREAKAGES)
def test_the_repaired_knowledge_base_serves_every_answer(breakage, code, subject, record):
    kb = engine.repaired(breakage(SOUND))
    assert {p.code for p in engine.integrity_problems(kb)} <= HARMLESS
    for asked in kb.questions:
        for chosen in asked.options:
            result = engine.recommend(kb, {asked.slug: (chosen.slug,)})
            engine.as_dict(kb, result)
    assert all(check.result for check in engine.check_profiles(kb))


def test_repair_drops_a_new_criterion_but_keeps_every_protocol():
    kb = engine.repaired(new_criterion(SOUND))
    assert [c.slug for c in kb.criteria] == ["speed", "reach", "cost"]
    assert [p.slug for p in kb.protocols] == ["alpha", "beta", "gamma"]


def test_repair_drops_a_new_protocol_but_keeps_every_criterion():
    kb = engine.repaired(new_protocol(SOUND))
    assert [p.slug for p in kb.protocols] == ["alpha", "beta", "gamma"]
    assert [c.slug for c in kb.criteria] == ["speed", "reach", "cost"]


def test_repair_drops_a_question_whose_only_condition_is_gone():
    kb = engine.repaired(with_question(SOUND, "follow-up", condition=frozenset({("need", "further")})))
    assert [q.slug for q in kb.questions] == ["need", "limits"]


def test_repair_keeps_the_conditions_that_still_hold():
    broken = with_question(SOUND, "follow-up", condition=frozenset({("need", "far"), ("need", "further")}))
    assert engine.repaired(broken).question("follow-up").condition == {("need", "far")}


def test_repair_drops_effects_on_protocols_that_are_gone_and_profiles_expecting_them():
    broken = new_protocol(with_options(SOUND, "limits", option("only-delta", require("delta"))))
    broken = replace(broken, profiles=(*broken.profiles, profile("delta-fan", "delta", {"need": ("fast",)})))
    kb = engine.repaired(broken)
    assert kb.question("limits").option("only-delta").effects == ()
    assert [p.slug for p in kb.profiles] == ["speedy"]


# --- Answers given before an edit ------------------------------------------------------------------


def test_answers_that_fit_are_all_kept():
    answers = {"need": ("far",), "limits": ("cheap", "no-alpha"), "follow-up": ("no",)}
    assert engine.fit_answers(SOUND, answers) == (answers, ())


def test_answers_to_questions_no_longer_asked_are_kept():
    answers = {"need": ("fast",), "follow-up": ("no",)}
    assert engine.fit_answers(SOUND, answers) == (answers, ())


@pytest.mark.parametrize(
    ("kb", "answers", "reason"),
    [
        (SOUND, {"gone": ("x",)}, "The question “gone” has been removed, so its answer no longer counts."),
        (SOUND, {"limits": ("quick",)}, "“quick” is no longer an option of “Limits”; answer it again."),
        (
            SOUND,
            {"limits": ("cheap", "free", "gratis")},
            "“free” and “gratis” are no longer options of “Limits”; answer it again.",
        ),
        (
            with_question(SOUND, "limits", kind="single"),
            {"limits": ("cheap", "no-alpha")},
            "Your answer to “Limits” no longer fits: this question takes a single answer. Answer it again.",
        ),
    ],
    ids=["question-deleted", "option-renamed", "options-removed", "now-single-choice"],
)
def test_answers_that_no_longer_fit_are_dropped_whole_with_the_reason(kb, answers, reason):
    kept, dropped = engine.fit_answers(kb, {"need": ("fast",), **answers})
    assert kept == {"need": ("fast",)}
    (answer,) = dropped
    ((slug, options),) = answers.items()
    assert (answer.question, answer.options, answer.reason) == (slug, options, reason)
