"""The engine on small, hand-built knowledge bases: every rule of the scoring, one at a time."""

from __future__ import annotations

import dataclasses

import pytest

from advisor import engine
from tests.builders import exclude, knowledge_base, layers, option, question, require, weight

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
        option("no-alpha", exclude("alpha", "alpha cannot cross this network")),
        option("only-gamma", require("gamma", "policy mandates gamma")),
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
KB = knowledge_base(RATINGS, QUESTIONS)


def test_scores_are_weighted_means_on_a_0_to_100_scale():
    result = engine.recommend(KB, {"need": ("fast",)})
    # weights: speed 1+3, reach 1, cost 1 -> total 6
    alpha = result.score("alpha")
    assert alpha.total == pytest.approx(100 * (4 * 5 + 1 * 1 + 1 * 3) / (5 * 6))
    assert sum(c.points for c in alpha.contributions) == pytest.approx(alpha.total)
    assert [c.weight for c in alpha.contributions] == [4, 1, 1]
    assert result.primary == "alpha"
    # beta and gamma tie on 16 weighted points; beta is listed first.
    assert result.runner_up == "beta"
    assert result.score("beta").total == result.score("gamma").total
    assert result.margin == pytest.approx(alpha.total - result.score("beta").total)


def test_weight_sources_name_the_answers_behind_each_weight():
    result = engine.recommend(KB, {"need": ("far",), "follow-up": ("no",)})
    sources = [(s.criterion, s.weight, s.question, s.option) for s in result.weight_sources if s.question]
    assert sources == [("reach", 3, "need", "far"), ("reach", 1, "follow-up", "no")]
    assert result.weights["reach"] == 5


def test_excluded_protocols_never_rank_and_carry_their_reason():
    result = engine.recommend(KB, {"need": ("fast",), "limits": ("no-alpha",)})
    assert "alpha" not in [score.protocol for score in result.ranking]
    assert result.excluded == (
        engine.Exclusion("alpha", "limits", "no-alpha", "exclude", "alpha cannot cross this network"),
    )
    assert result.primary == "beta"


def test_a_requirement_excludes_every_other_protocol():
    result = engine.recommend(KB, {"need": ("fast",), "limits": ("only-gamma",)})
    assert [score.protocol for score in result.ranking] == ["gamma"]
    assert {e.protocol for e in result.excluded} == {"alpha", "beta"}
    assert all(e.reason == "policy mandates gamma" for e in result.excluded)
    assert result.runner_up is None and result.margin is None


def test_constraints_that_exclude_everything_leave_no_primary():
    result = engine.recommend(KB, {"need": ("fast",), "limits": ("no-alpha", "only-gamma")})
    assert result.primary == "gamma"
    kb = knowledge_base(RATINGS, (question("q", 1, option("none", require("alpha"), exclude("alpha"))),))
    assert engine.recommend(kb, {"q": ("none",)}).primary is None


def test_ties_go_to_the_protocol_listed_first():
    kb = knowledge_base({"first": {"x": 3}, "second": {"x": 3}})
    assert engine.recommend(kb, {}).primary == "first"
    kb = knowledge_base({"second": {"x": 3}, "first": {"x": 3}})
    assert engine.recommend(kb, {}).primary == "second"


def test_i_dont_know_adds_nothing_and_is_reported_as_open():
    assert engine.recommend(KB, {"need": ("dunno",)}).weights == engine.recommend(KB, {}).weights
    result = engine.recommend(KB, {"need": ("dunno",)})
    assert "need" in result.unknown


def test_answers_to_questions_no_longer_asked_are_ignored_and_listed():
    result = engine.recommend(KB, {"need": ("fast",), "follow-up": ("yes",)})
    assert dict(result.ignored_answers) == {"follow-up": ("yes",)}
    assert "follow-up" not in result.answers
    assert result.weights == engine.recommend(KB, {"need": ("fast",)}).weights


@pytest.mark.parametrize(
    ("answers", "key", "message"),
    [
        ({"nope": ("x",)}, "nope", "no such question"),
        ({"need": ("slow",)}, "need", "Not an option"),
        ({"need": ("fast", "far")}, "need", "single answer"),
        ({"limits": ("cheap", "cheap")}, "limits", "chosen twice"),
        ({"need": ()}, "need", "at least one"),
    ],
)
def test_malformed_answers_are_refused_by_question(answers, key, message):
    errors = engine.validate(KB, answers, complete=False)
    assert message in errors[key]
    with pytest.raises(engine.InvalidAnswers) as raised:
        engine.recommend(KB, answers)
    assert key in raised.value.errors


def test_validate_reports_hidden_and_missing_answers():
    assert engine.validate(KB, {"need": ("fast",), "follow-up": ("no",)}) == {
        "follow-up": "This question is not asked after your other answers."
    }
    assert engine.validate(KB, {"need": ("far",)}) == {"follow-up": "This question needs an answer."}
    assert engine.validate(KB, {"need": ("far",)}, complete=False) == {}
    assert engine.validate(KB, {"need": ("far",), "follow-up": ("no",)}) == {}


def test_i_dont_know_cannot_be_combined_with_other_answers():
    kb = knowledge_base(
        RATINGS,
        (question("m", 1, option("a", weight("speed", 1)), option("idk", unknown=True), kind="multiple"),),
    )
    assert "cannot be combined" in engine.validate(kb, {"m": ("a", "idk")})["m"]


def test_weight_flip_is_exactly_where_the_leader_changes():
    result = engine.recommend(KB, {"need": ("fast",)})
    flip = next(f for f in result.sensitivity if f.criterion == "reach")
    assert flip.weight == 1 and flip.new_leader == "beta"
    # Check the closed form against the engine itself: just past the flip point, beta leads.
    for base, leader in ((flip.flip_at - 0.01, "alpha"), (flip.flip_at + 0.01, "beta")):
        scaled = {p: {c: s * 100 for c, s in r.items()} for p, r in RATINGS.items()}
        assert _leader_with_reach_weight(scaled, base) == leader


def _leader_with_reach_weight(ratings, reach_weight: float) -> str:
    weights = {"speed": 4, "reach": reach_weight, "cost": 1}
    totals = {p: sum(weights[c] * s for c, s in r.items()) for p, r in ratings.items()}
    return max(totals, key=lambda p: (totals[p], -list(ratings).index(p)))


def test_sensitivity_lists_nearest_flips_first():
    result = engine.recommend(KB, {"need": ("fast",)})
    distances = [abs(f.flip_at - f.weight) for f in result.sensitivity]
    assert distances == sorted(distances)
    assert all(f.new_leader != result.primary for f in result.sensitivity)


def test_answer_changes_name_the_answers_that_would_change_the_outcome():
    result = engine.recommend(KB, {"need": ("fast",)})
    changes = {(c.question, c.change, c.option): c.new_leader for c in result.answer_changes}
    assert changes[("need", "choose", "far")] == "beta"
    assert changes[("limits", "choose", "no-alpha")] == "beta"
    assert ("limits", "choose", "cheap") not in changes
    for change in result.answer_changes:
        answers = dict(result.answers)
        if change.change == "choose":
            answers[change.question] = (change.option,)
        else:
            answers[change.question] = (*answers.get(change.question, ()), change.option)
        assert engine.recommend(KB, answers).primary == change.new_leader


def test_warnings_fire_on_all_triggers_unless_silenced():
    rule = engine.Rule(
        "risky",
        "Fast and alpha-free is risky.",
        "risk",
        frozenset({("need", "fast"), ("limits", "no-alpha")}),
        frozenset({("limits", "cheap")}),
        ("ref",),
    )
    kb = dataclasses.replace(KB, rules=(rule,))
    assert [w.rule for w in engine.recommend(kb, {"need": ("fast",), "limits": ("no-alpha",)}).warnings] == [
        "risky"
    ]
    assert engine.recommend(kb, {"need": ("fast",)}).warnings == ()
    assert engine.recommend(kb, {"need": ("fast",), "limits": ("no-alpha", "cheap")}).warnings == ()


LAYERED_RATINGS = {
    "tls": {"app": 5, "net": 1, "depth": 2},
    "ipsec": {"app": 1, "net": 5, "depth": 2},
    "wg": {"app": 1, "net": 4, "depth": 2},
}
LAYER_FAMILIES = {
    "tls": ("tls", "application"),
    "ipsec": ("ipsec", "network"),
    "wg": ("other_vpn", "network"),
}


def test_two_layers_make_a_layered_part_with_an_outer_network_layer_and_an_inner_application_layer():
    kb = knowledge_base(
        LAYERED_RATINGS,
        (
            question(
                "scope",
                1,
                option("link", exclude("tls", "cannot join networks"), flow="link"),
                kind="multiple",
            ),
            question("assurance", 2, option("two-layers", layers()), option("one", weight("app", 1))),
        ),
        families=LAYER_FAMILIES,
        flows=("link",),
    )
    result = engine.recommend(kb, {"scope": ("link",), "assurance": ("two-layers",)})
    (part,) = result.parts
    assert [(layer.role, layer.protocol) for layer in part.layers] == [("outer", "ipsec"), ("inner", "tls")]
    assert result.kind == "layered"
    # The flow's own exclusion says TLS cannot protect the link alone; it can still run inside it.
    assert "tls" in {e.protocol for e in part.excluded}
    assert part.runner_up == "wg"
    assert "two independent layers" in " ".join(part.why)


def test_without_an_application_layer_the_inner_layer_is_a_second_independent_instance():
    kb = knowledge_base(
        LAYERED_RATINGS,
        (question("q", 1, option("both", layers(), exclude("tls", "the applications cannot use TLS"))),),
        families=LAYER_FAMILIES,
    )
    part = engine.recommend(kb, {"q": ("both",)}).parts[0]
    assert [(layer.role, layer.protocol) for layer in part.layers] == [("outer", "ipsec"), ("inner", "ipsec")]
    assert "a second, independent IPSEC" in engine.recommend(kb, {"q": ("both",)}).summary


def test_each_flow_gets_its_own_part_scored_with_the_answers_that_bear_on_it():
    ratings = {"alpha": {"speed": 5, "reach": 1}, "beta": {"speed": 1, "reach": 5}}
    kb = knowledge_base(
        ratings,
        (
            question(
                "scope",
                1,
                option("fast-flow", weight("speed", 3), flow="fast-flow"),
                option("far-flow", weight("reach", 3), flow="far-flow"),
                kind="multiple",
            ),
            question(
                "extra",
                2,
                option("far-only", weight("reach", 5), applies_to=frozenset({"far-flow"})),
                option("none"),
            ),
        ),
        flows=("fast-flow", "far-flow"),
    )
    result = engine.recommend(kb, {"scope": ("fast-flow", "far-flow"), "extra": ("far-only",)})
    assert [(part.flow, part.primary) for part in result.parts] == [
        ("fast-flow", "alpha"),
        ("far-flow", "beta"),
    ]
    assert result.parts[0].weights["reach"] == 1  # "far-only" bears on the other flow alone
    assert result.parts[1].weights["reach"] == 1 + 3 + 5
    assert result.kind == "parts"
    assert result.summary.startswith("A design in 2 parts.")
    # With no flow named, one part takes every answer.
    assert [part.flow for part in engine.recommend(kb, {"extra": ("far-only",)}).parts] == [None]


def test_a_part_that_nothing_meets_names_the_clashing_answers():
    kb = knowledge_base(
        RATINGS,
        (
            question("a", 1, option("no-alpha", exclude("alpha"), exclude("gamma"))),
            question("b", 2, option("no-beta", exclude("beta"))),
        ),
    )
    result = engine.recommend(kb, {"a": ("no-alpha",), "b": ("no-beta",)})
    assert result.primary is None
    assert "cannot all hold" in result.parts[0].why[0]
    assert "“no alpha”" in result.parts[0].why[0] and "“no beta”" in result.parts[0].why[0]


def test_a_tie_is_named_as_a_tie_with_what_would_decide_it():
    kb = knowledge_base({"first": {"x": 3, "y": 1}, "second": {"x": 3, "y": 1}})
    part = engine.recommend(kb, {}).parts[0]
    assert part.margin == 0 and part.close_call
    assert any(sentence.startswith("It ties with SECOND") for sentence in part.why)


def test_levers_are_at_most_five_cheapest_first_and_never_weaken_protection():
    ratings = {"alpha": {"speed": 5, "reach": 1}, "beta": {"speed": 1, "reach": 5}}
    questions = tuple(
        question(
            f"q{n}",
            n,
            option("keep"),
            option("switch", weight("reach", 5)),
            option("weaker", weight("reach", 5), weakens=True),
            lever_cost=6 - n if n < 6 else 1,
        )
        for n in range(1, 8)
    )
    kb = knowledge_base(ratings, questions)
    answers = {f"q{n}": ("keep",) for n in range(1, 8)}
    changes = engine.recommend(kb, answers).answer_changes
    assert len(changes) == 5
    costs = [kb.question(c.question).lever_cost for c in changes]
    assert costs == sorted(costs)
    assert all(c.option == "switch" for c in changes)


def test_harder_situations_are_offered_only_to_settle_an_open_question():
    ratings = {"alpha": {"speed": 5}, "beta": {"speed": 4}}
    kb = knowledge_base(
        ratings,
        (
            question(
                "path",
                1,
                option("open"),
                option("blocked", exclude("alpha"), offered=False),
                option("idk", unknown=True),
            ),
        ),
    )
    assert engine.recommend(kb, {"path": ("open",)}).answer_changes == ()
    (change,) = engine.recommend(kb, {"path": ("idk",)}).answer_changes
    assert (change.option, change.new_leader, change.settles_open_question) == ("blocked", "beta", True)


def test_a_question_that_describes_the_case_is_no_lever():
    ratings = {"alpha": {"speed": 5, "reach": 1}, "beta": {"speed": 1, "reach": 5}}
    kb = knowledge_base(
        ratings,
        (
            question(
                "need", 1, option("fast", weight("speed", 3)), option("far", weight("reach", 3)), lever_cost=0
            ),
        ),
    )
    assert engine.recommend(kb, {"need": ("fast",)}).answer_changes == ()


def test_guidance_follows_protocols_flows_and_answers():
    items = (
        engine.Guidance("for-alpha", "checklist", "Alpha", "do alpha", protocols=frozenset({"alpha"})),
        engine.Guidance("for-beta", "checklist", "Beta", "do beta", protocols=frozenset({"beta"})),
        engine.Guidance("when-fast", "pitfall", "Fast", "mind speed", when_all=frozenset({("need", "fast")})),
        engine.Guidance(
            "unless-cheap", "checklist", "Not cheap", "spend", unless_any=frozenset({("limits", "cheap")})
        ),
        engine.Guidance(
            "any-of",
            "checklist",
            "Any",
            "either",
            protocols=frozenset({"alpha"}),
            when_any=frozenset({("limits", "cheap"), ("limits", "no-alpha")}),
        ),
        engine.Guidance(
            "alpha-mode",
            "mode",
            "Mode",
            "alpha, the fast way",
            protocols=frozenset({"alpha"}),
            when_all=frozenset({("need", "fast")}),
        ),
    )
    kb = dataclasses.replace(KB, guidance=items)
    result = engine.recommend(kb, {"need": ("fast",)})
    assert result.parts[0].guidance == ("for-alpha",)
    assert result.guidance == ("when-fast", "unless-cheap")
    assert result.parts[0].layers[0].mode == "alpha, the fast way"
    cheap = engine.recommend(kb, {"need": ("far",), "limits": ("cheap",)})
    assert cheap.primary == "beta" and cheap.parts[0].guidance == ("for-beta",)
    assert cheap.guidance == () and cheap.parts[0].layers[0].mode == "beta mode"


def test_open_questions_list_their_assumptions():
    kb = knowledge_base(
        RATINGS,
        (
            question(
                "need",
                1,
                option("fast", weight("speed", 1)),
                option("dunno", unknown=True),
                assumption="Assumed slow.",
            ),
            question("other", 2, option("x", weight("cost", 1)), assumption="Assumed x."),
        ),
    )
    result = engine.recommend(kb, {"need": ("dunno",)})
    assert [(a.question, a.text) for a in result.assumptions] == [
        ("need", "Assumed slow."),
        ("other", "Assumed x."),
    ]
    assert engine.recommend(kb, {"need": ("fast",), "other": ("x",)}).assumptions == ()


def test_the_same_answers_give_the_same_result():
    answers = {"need": ("far",), "follow-up": ("yes",), "limits": ("cheap",)}
    assert engine.recommend(KB, answers) == engine.recommend(KB, dict(reversed(list(answers.items()))))


def test_each_part_gets_its_post_quantum_mechanism_and_the_urgency_its_answers_call_for():
    items = (
        engine.Guidance("pq-alpha", engine.QUANTUM, "Alpha PQ", "hybrid", protocols=frozenset({"alpha"})),
        engine.Guidance("pq-beta", engine.QUANTUM, "Beta PQ", "none", protocols=frozenset({"beta"})),
        engine.Guidance(
            "urgent", engine.URGENCY, "urgent", "now", order=1, when_any=frozenset({("need", "far")})
        ),
        engine.Guidance("later", engine.URGENCY, "later", "someday", order=2),
    )
    kb = dataclasses.replace(KB, guidance=items)
    fast = engine.recommend(kb, {"need": ("fast",)}).parts[0]
    assert (fast.quantum, fast.urgency) == (("pq-alpha",), "later")
    far = engine.recommend(kb, {"need": ("far",)}).parts[0]
    assert (far.primary, far.quantum, far.urgency) == ("beta", ("pq-beta",), "urgent")
    assert engine.recommend(kb, {"need": ("fast",)}).guidance == (), "verdicts are not checklist items"
