"""The engine on the shipped knowledge base: expert expectations and invariants over random answers."""

from __future__ import annotations

import json
from fractions import Fraction
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor import engine, knowledge
from tests.shipped import CLOSE_BY_DESIGN, SHIPPED_DESIGNS, SHIPPED_PROFILES

pytestmark = pytest.mark.django_db

PROFILE_SLUGS = SHIPPED_PROFILES


@pytest.fixture(scope="module")
def kb(django_db_setup, django_db_blocker) -> engine.KnowledgeBase:
    with django_db_blocker.unblock():
        return knowledge.build()


def test_every_shipped_profile_is_covered_here(kb):
    assert sorted(p.slug for p in kb.profiles) == sorted(PROFILE_SLUGS)


@pytest.mark.parametrize("slug", PROFILE_SLUGS)
def test_profile_gets_the_design_its_expert_expects(kb, slug):
    profile = kb.profile(slug)
    assert engine.validate(kb, profile.answers) == {}
    result = engine.recommend(kb, profile.answers)
    design = [(part.flow, tuple(layer.protocol for layer in part.layers)) for part in result.parts]
    assert design == SHIPPED_DESIGNS[slug], [part.why for part in result.parts]
    assert result.primary == profile.expected_protocol
    for part in result.parts:
        if (slug, part.flow) in CLOSE_BY_DESIGN:
            assert part.close_call, "a close call by design must be flagged as one"
        else:
            assert part.margin is None or part.margin >= engine.CLOSE_CALL, (
                f"{slug} / {part.flow}: the expert's choice wins only by {part.margin:.1f} points"
            )


def test_two_layers_mandate_gives_an_ipsec_outer_layer_and_tls_inside(kb):
    result = engine.recommend(kb, kb.profile("high-assurance-two-layers").answers)
    (part,) = result.parts
    assert result.kind == "layered"
    assert [(layer.role, layer.protocol) for layer in part.layers] == [
        ("outer", "ipsec-esp-tunnel"),
        ("inner", "tls"),
    ]
    assert any("two independent layers" in sentence for sentence in part.why)


def test_opening_ipsec_ports_would_put_ipsec_first_for_managed_remote_access(kb):
    """The managed remote-access case, but on networks that pass only TCP 443: a TLS VPN wins, and the
    engine says that opening UDP 500/4500 would hand the lead to IPsec."""
    answers = {**kb.profile("remote-access-managed").answers, "path": ("only-443",)}
    result = engine.recommend(kb, answers)
    assert result.primary == "tls-vpn-tunnel"
    sentences = [engine.describe_change(kb, change) for change in result.answer_changes]
    assert any("UDP 500 and 4500" in s and "IPsec ESP, tunnel mode" in s for s in sentences), sentences


@st.composite
def answer_sets(draw, kb: engine.KnowledgeBase) -> dict[str, tuple[str, ...]]:
    """Random valid answers: every asked question answered, conditions honoured, some optional ones skipped."""
    answers: dict[str, tuple[str, ...]] = {}
    for question in kb.questions:
        if question.slug not in {q.slug for q in engine.visible_questions(kb, answers)}:
            continue
        if not question.required and draw(st.booleans()):
            continue
        known = [o.slug for o in question.options if not o.is_unknown]
        unknown = [o.slug for o in question.options if o.is_unknown]
        if unknown and draw(st.integers(0, 4)) == 0:
            answers[question.slug] = (draw(st.sampled_from(unknown)),)
        elif question.kind == engine.SINGLE:
            answers[question.slug] = (draw(st.sampled_from(known)),)
        else:
            answers[question.slug] = tuple(
                draw(st.lists(st.sampled_from(known), min_size=1, max_size=3, unique=True))
            )
    return answers


PROPERTIES = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def random_answers(kb):
    return answer_sets(kb)


@PROPERTIES
@given(data=st.data())
def test_scores_are_bounded_and_contributions_add_up(kb, random_answers, data):
    answers = data.draw(random_answers)
    assert engine.validate(kb, answers) == {}
    result = engine.recommend(kb, answers)
    for part in result.parts:
        for score in part.ranking:
            assert 0 <= score.total <= 100
            assert sum(c.points for c in score.contributions) == pytest.approx(score.total)
            assert all(0 <= c.rating <= engine.RATING_MAX for c in score.contributions)
        totals = [score.total for score in part.ranking]
        assert totals == sorted(totals, reverse=True)


@PROPERTIES
@given(data=st.data())
def test_hard_requirements_bind_every_part_and_its_runner_up(kb, random_answers, data):
    answers = data.draw(random_answers)
    result = engine.recommend(kb, answers)
    for part in result.parts:
        excluded = {e.protocol for e in part.excluded}
        assert excluded.isdisjoint(score.protocol for score in part.ranking)
        assert part.runner_up is None or part.runner_up not in excluded
        assert part.layers[0].protocol not in excluded if part.layers else part.why
        assert part.why, "every part explains itself"


@PROPERTIES
@given(data=st.data())
def test_results_are_deterministic(kb, random_answers, data):
    answers = data.draw(random_answers)
    reordered = dict(reversed(list(answers.items())))
    assert engine.recommend(kb, answers) == engine.recommend(kb, reordered)


def _apply(answers: dict, change: engine.AnswerChange) -> dict:
    changed = dict(answers)
    current = changed.get(change.question, ())
    if change.change == "choose":
        changed[change.question] = (change.option,)
    elif change.change == "add":
        changed[change.question] = (*current, change.option)
    elif change.change == "swap":
        changed[change.question] = tuple(change.option if o == change.replaces else o for o in current)
    else:
        changed[change.question] = tuple(o for o in current if o != change.option)
    return changed


def _plain_leader(kb: engine.KnowledgeBase, part: engine.Part, criterion: str, weight: Fraction) -> str:
    """Re-score a part by hand, with one criterion's weight replaced: no packing, no shortcuts.

    Exact fractions, not floats: two protocols that tie keep tying, as they do in the engine's integers.
    """
    weights = {**{slug: Fraction(value) for slug, value in part.weights.items()}, criterion: weight}
    standing = [score.protocol for score in part.ranking]
    order = [p.slug for p in kb.protocols]
    totals = {p: sum(w * kb.rating(p, c) for c, w in weights.items()) for p in standing}
    return max(standing, key=lambda p: (totals[p], -order.index(p)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_packed_answer_changes_and_weight_flips_agree_with_plain_rescoring(kb, random_answers, data):
    """The engine finds answer changes with packed integer sums; re-scoring each change in full must agree."""
    answers = data.draw(random_answers)
    result = engine.recommend(kb, answers)
    assert len(result.answer_changes) <= engine.MAX_LEVERS
    for change in result.answer_changes:
        option = kb.question(change.question).option(change.option)
        assert not (option.weakens and change.change != "remove"), "never offered: weakening protection"
        assert kb.question(change.question).lever_cost > 0 or change.settles_open_question
        changed = engine.recommend(kb, _apply(answers, change))
        part = next(p for p in changed.parts if p.flow == change.flow)
        assert part.primary == change.new_leader
        before = next(p for p in result.parts if p.flow == change.flow)
        assert [layer.protocol for layer in part.layers] != [layer.protocol for layer in before.layers]
    for part in result.parts:
        for flip in part.sensitivity:
            assert flip.new_leader != part.primary and flip.flip_at >= 0
            rival_gains = kb.rating(flip.new_leader, flip.criterion) > kb.rating(part.primary, flip.criterion)
            step = Fraction(1, 1000) if rival_gains else Fraction(-1, 1000)
            flip_at = Fraction(flip.flip_at).limit_denominator(10**6)
            assert _plain_leader(kb, part, flip.criterion, flip_at - step) == part.primary
            assert _plain_leader(kb, part, flip.criterion, flip_at + step) != part.primary


@PROPERTIES
@given(data=st.data())
def test_i_dont_know_never_excludes_or_weighs(kb, random_answers, data):
    answers = data.draw(random_answers)
    neutral = [
        (q, o)
        for q in engine.visible_questions(kb, answers)
        for o in q.options
        if o.is_unknown and q.slug not in kb._openers
    ]
    if not neutral:
        return
    question, option = data.draw(st.sampled_from(neutral))
    with_unknown = {**answers, question.slug: (option.slug,)}
    without = {k: v for k, v in answers.items() if k != question.slug}
    first, second = engine.recommend(kb, with_unknown), engine.recommend(kb, without)
    for one, other in zip(first.parts, second.parts, strict=True):
        assert one.ranking == other.ranking
        assert one.excluded == other.excluded
        assert one.layers == other.layers


REACHED_BY = {
    "tls": "public-website",
    "ipsec-esp-tunnel": "site-to-site",
    "ipsec-esp-transport": "legacy-app",
    "tls-vpn-portal": "contractors-unmanaged",
    "tls-vpn-tunnel": "remote-access-restrictive-firewall",
    "wireguard": "cloud-hosts-no-fips",
}


def test_every_shipped_protocol_is_reachable_or_the_knowledge_base_says_why_not(kb):
    """A protocol that no answers can recommend is dead weight, unless its limits say why it never leads."""
    for protocol in kb.protocols:
        if protocol.slug in REACHED_BY:
            result = engine.recommend(kb, kb.profile(REACHED_BY[protocol.slug]).answers)
            assert protocol.slug in {p for part in result.parts for p in part.protocols}
        else:
            assert any("ESP" in line and "RFC 8221" in line for line in protocol.limitations), protocol.slug


def run_recommend(*args: str) -> str:
    out = StringIO()
    call_command("recommend", *args, stdout=out)
    return out.getvalue()


def test_recommend_command_prints_a_readable_summary():
    text = run_recommend("--profile", "sites-and-customer-portal")
    assert "A design in 2 parts." in text
    assert "== Link between sites ==" in text and "== Public service ==" in text
    assert "UDP 4500" in text


def test_recommend_command_json_gives_the_design(tmp_path):
    answers = tmp_path / "answers.json"
    kb = knowledge.current()
    answers.write_text(
        json.dumps({"answers": {q: list(o) for q, o in kb.profile("public-website").answers.items()}})
    )
    data = json.loads(run_recommend("--answers", str(answers), "--format", "json"))
    assert data["primary"] == {"slug": "tls", "name": kb.protocol("tls").name}
    assert data["parts"][0]["ranking"][0]["protocol"]["slug"] == "tls"
    assert data["parts"][0]["why"] and data["summary"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["scope"]', "must hold an object"),
        ('{"scope": 3}', "must be an option slug"),
        ('{"scope": ["no-such-option"]}', "Not an option of this question"),
        ('{"scope": ["site-link"]}', "This question needs an answer"),
    ],
)
def test_recommend_command_refuses_bad_answers_clearly(tmp_path, content, message):
    path = tmp_path / "answers.json"
    path.write_text(content)
    with pytest.raises(CommandError, match=message):
        run_recommend("--answers", str(path))


def test_recommend_command_refuses_unknown_profiles_and_missing_files(tmp_path):
    with pytest.raises(CommandError, match="Known profiles: public-website"):
        run_recommend("--profile", "no-such-profile")
    with pytest.raises(CommandError, match="Cannot read"):
        run_recommend("--answers", str(tmp_path / "missing.json"))


def answers_triggering(kb: engine.KnowledgeBase, rule: engine.Rule) -> dict[str, tuple[str, ...]]:
    """A complete, valid answer set that contains the rule's triggers and none of its silencers.

    Questions before a trigger's question are answered so that they open it.
    """
    triggers: dict[str, list[str]] = {}
    for question, option in sorted(rule.when_all):
        triggers.setdefault(question, []).append(option)
    openers = {pair for slug in triggers for pair in kb.question(slug).condition}
    answers: dict[str, tuple[str, ...]] = {}
    for question in kb.questions:
        if question.slug not in {q.slug for q in engine.visible_questions(kb, answers)}:
            continue
        if question.slug in triggers:
            answers[question.slug] = tuple(triggers[question.slug])
            continue
        allowed = [
            o.slug
            for o in question.options
            if not o.is_unknown and (question.slug, o.slug) not in rule.unless_any
        ]
        opening = [o for o in allowed if (question.slug, o) in openers]
        answers[question.slug] = ((opening or allowed)[0],)
    return answers


def test_every_warning_rule_fires_on_its_triggers_and_only_then(kb):
    assert len(kb.rules) >= 10
    for rule in kb.rules:
        answers = answers_triggering(kb, rule)
        assert engine.validate(kb, answers) == {}, rule.slug
        result = engine.recommend(kb, answers)
        assert rule.slug in [warning.rule for warning in result.warnings], rule.slug
        for question, option in rule.unless_any:
            silenced = {**answers, question: (*answers.get(question, ()), option)}
            assert rule.slug not in [w.rule for w in engine.recommend(kb, silenced).warnings], rule.slug


def test_the_named_contradictions_are_caught(kb):
    fired = {
        rule.slug
        for rule in kb.rules
        if {("path", "nat"), ("protection", "integrity-only")} <= rule.when_all
        or {("scope", "site-link"), ("endpoints", "public-browsers")} <= rule.when_all
        or {("protection", "integrity-only"), ("compliance", "two-layers")} <= rule.when_all
    }
    assert len(fired) == 3
