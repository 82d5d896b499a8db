"""The engine on the shipped knowledge base: expert expectations and invariants over random answers."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor import engine, knowledge
from tests.shipped import SHIPPED_PROFILES

pytestmark = pytest.mark.django_db

PROFILE_SLUGS = SHIPPED_PROFILES


@pytest.fixture(scope="module")
def kb(django_db_setup, django_db_blocker) -> engine.KnowledgeBase:
    with django_db_blocker.unblock():
        return knowledge.build()


def test_every_shipped_profile_is_covered_here(kb):
    assert sorted(p.slug for p in kb.profiles) == sorted(PROFILE_SLUGS)


@pytest.mark.parametrize("slug", PROFILE_SLUGS)
def test_profile_gets_the_protocol_its_expert_expects(kb, slug):
    profile = kb.profile(slug)
    assert engine.validate(kb, profile.answers) == {}
    result = engine.recommend(kb, profile.answers)
    assert result.primary == profile.expected_protocol, engine.as_dict(kb, result)["ranking"][:3]
    assert result.margin is None or result.margin >= 3, "the expert's choice wins only by a hair"


def test_two_layers_mandate_names_both_layers(kb):
    result = engine.recommend(kb, kb.profile("high-assurance-two-layers").answers)
    assert result.layering is not None
    assert kb.protocol(result.layering.network).family == "ipsec"
    assert result.layering.application == "tls"


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
    for score in result.ranking:
        assert 0 <= score.total <= 100
        assert sum(c.points for c in score.contributions) == pytest.approx(score.total)
        assert all(0 <= c.rating <= engine.RATING_MAX for c in score.contributions)
    totals = [score.total for score in result.ranking]
    assert totals == sorted(totals, reverse=True)


@PROPERTIES
@given(data=st.data())
def test_excluded_protocols_never_rank(kb, random_answers, data):
    result = engine.recommend(kb, data.draw(random_answers))
    ranked = {score.protocol for score in result.ranking}
    assert ranked.isdisjoint({exclusion.protocol for exclusion in result.excluded})
    assert ranked | {e.protocol for e in result.excluded} == {p.slug for p in kb.protocols}
    assert result.primary == (result.ranking[0].protocol if result.ranking else None)


@PROPERTIES
@given(data=st.data())
def test_results_are_deterministic(kb, random_answers, data):
    answers = data.draw(random_answers)
    reordered = dict(reversed(list(answers.items())))
    assert engine.recommend(kb, answers) == engine.recommend(kb, reordered)


@PROPERTIES
@given(data=st.data())
def test_answer_changes_and_weight_flips_are_true(kb, random_answers, data):
    answers = data.draw(random_answers)
    result = engine.recommend(kb, answers)
    for change in result.answer_changes:
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
        counted = {
            q: o for q, o in changed.items() if q in {v.slug for v in engine.visible_questions(kb, changed)}
        }
        assert engine.recommend(kb, counted).primary == change.new_leader
    for flip in result.sensitivity:
        assert flip.new_leader != result.primary
        assert flip.flip_at >= 0


@PROPERTIES
@given(data=st.data())
def test_an_answer_that_affects_no_criterion_changes_nothing(kb, random_answers, data):
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
    assert first.ranking == second.ranking
    assert first.excluded == second.excluded
    assert first.primary == second.primary


def run_recommend(*args: str) -> str:
    out = StringIO()
    call_command("recommend", *args, stdout=out)
    return out.getvalue()


def test_recommend_command_prints_a_readable_summary():
    text = run_recommend("--profile", "site-to-site")
    assert "Recommended: IPsec ESP, tunnel mode (IKEv2)" in text
    assert "What would change the answer" in text
    assert "UDP 4500" in text


def test_recommend_command_json_names_the_primary_first(tmp_path):
    answers = tmp_path / "answers.json"
    kb = knowledge.current()
    answers.write_text(
        json.dumps({"answers": {q: list(o) for q, o in kb.profile("public-website").answers.items()}})
    )
    data = json.loads(run_recommend("--answers", str(answers), "--format", "json"))
    assert list(data)[0] == "primary"
    assert data["primary"] == {"slug": "tls", "name": kb.protocol("tls").name}
    assert data["ranking"][0]["protocol"]["slug"] == "tls"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["scope"]', "must hold an object"),
        ('{"scope": 3}', "must be an option slug"),
        ('{"scope": ["no-such-option"]}', "Not an option of this question"),
        ('{"scope": ["one-app"]}', "This question needs an answer"),
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
        or {("scope", "between-sites"), ("endpoints", "public-browsers")} <= rule.when_all
        or {("protection", "integrity-only"), ("compliance", "two-layers")} <= rule.when_all
    }
    assert len(fired) == 3
