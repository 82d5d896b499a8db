"""The shipped knowledge base is complete and internally consistent."""

from __future__ import annotations

import pytest

from advisor import engine, knowledge
from advisor.models import (
    KNOWLEDGE_BASE_MODELS,
    ConsistencyRule,
    Criterion,
    Flow,
    Guidance,
    Option,
    ProfileAnswer,
    Protocol,
    Question,
    Rating,
    Reference,
    UseCaseProfile,
)
from tests.shipped import SHIPPED_PROFILES

pytestmark = pytest.mark.django_db

REQUIRED_PROTOCOLS = {
    "tls",
    "ipsec-esp-tunnel",
    "ipsec-esp-transport",
    "ipsec-ah",
    "tls-vpn-portal",
    "tls-vpn-tunnel",
    "wireguard",
}
REQUIRED_FLOWS = {
    "site-link",
    "host-link",
    "remote-access",
    "third-party-access",
    "public-service",
    "app-service",
}
REQUIRED_PROFILES = set(SHIPPED_PROFILES)
REQUIRED_REFERENCES = {
    "NIST SP 800-52r2",
    "NIST SP 800-77r1",
    "NIST SP 800-113",
    "NIST SP 800-207",
    "RFC 8446",
    "RFC 8996",
    "RFC 9325",
    "RFC 4301",
    "RFC 4302",
    "RFC 4303",
    "RFC 7296",
    "RFC 3948",
    "RFC 8221",
    "RFC 8247",
    "RFC 9329",
    "RFC 9395",
    "RFC 9206",
    "RFC 9150",
    "RFC 9370",
}


def test_the_required_protocols_profiles_and_references_are_shipped():
    assert set(Protocol.objects.values_list("slug", flat=True)) >= REQUIRED_PROTOCOLS
    assert set(UseCaseProfile.objects.values_list("slug", flat=True)) >= REQUIRED_PROFILES
    assert set(Reference.objects.values_list("identifier", flat=True)) >= REQUIRED_REFERENCES
    assert set(Flow.objects.values_list("slug", flat=True)) >= REQUIRED_FLOWS
    assert Criterion.objects.count() >= 12
    assert UseCaseProfile.objects.count() >= 10


def test_every_protocol_is_rated_on_every_criterion():
    rated = set(Rating.objects.values_list("protocol__slug", "criterion__slug"))
    expected = {
        (p, c)
        for p in Protocol.objects.values_list("slug", flat=True)
        for c in Criterion.objects.values_list("slug", flat=True)
    }
    assert expected - rated == set()


def test_every_rating_has_a_rationale_and_a_reference():
    for rating in Rating.objects.prefetch_related("references"):
        assert len(rating.rationale.strip()) >= 40, rating
        assert rating.references.exists(), f"{rating} cites no reference"


def test_every_protocol_has_a_mode_ports_references_and_its_own_guidance():
    for protocol in Protocol.objects.prefetch_related("references"):
        assert protocol.mode.strip(), protocol
        assert protocol.strengths.strip() and protocol.limitations.strip(), protocol
        assert protocol.ports.strip(), protocol
        assert protocol.references.exists(), protocol
        assert Guidance.objects.filter(protocols=protocol).count() >= 4, f"{protocol} has little guidance"


def test_every_guidance_item_cites_a_source_with_its_section():
    for item in Guidance.objects.prefetch_related("sources"):
        sources = list(item.sources.all())
        assert sources, f"{item} cites nothing"
        assert any(source.section.strip() for source in sources), f"{item} cites no section"
        if item.kind == Guidance.Kind.SETTING:
            assert item.key and item.text.strip(), item
        else:
            assert len(item.text) >= 40, item


def test_every_question_has_two_options_and_every_known_option_does_something():
    """An option counts when it weighs or constrains, names a flow, opens a question, or conditions guidance
    or a warning; “I don't know” must do none of the first three."""
    for question in Question.objects.prefetch_related("options__effects"):
        options = list(question.options.all())
        assert len(options) >= 2, question
        for option in options:
            if option.is_unknown:
                assert not option.effects.exists(), f"“I don't know” must stay neutral: {option}"
                assert option.flow is None, option
                continue
            assert (
                option.effects.exists()
                or option.flow is not None
                or option.dependent_questions.exists()
                or option.rules_triggered.exists()
                or option.guidance_when_all.exists()
                or option.guidance_when_any.exists()
            ), f"{option} does nothing"


def test_every_question_that_can_be_left_open_says_what_is_then_assumed():
    for question in Question.objects.filter(options__is_unknown=True).distinct():
        assert len(question.assumption) >= 40, question


def test_i_dont_know_is_offered_somewhere():
    assert Option.objects.filter(is_unknown=True).count() >= 4


def test_conditions_only_look_back_at_earlier_questions():
    for question in Question.objects.prefetch_related("condition_options__question"):
        for option in question.condition_options.all():
            assert option.question.order < question.order, f"{question} depends on later {option}"


def visible_questions(chosen: set[int]) -> list[Question]:
    """Questions whose condition is met by the chosen option ids, in order."""
    visible = []
    for question in Question.objects.prefetch_related("condition_options"):
        conditions = {option.pk for option in question.condition_options.all()}
        if not conditions or conditions & chosen:
            visible.append(question)
    return visible


@pytest.mark.parametrize("slug", sorted(REQUIRED_PROFILES))
def test_profile_preset_answers_are_valid(slug):
    profile = UseCaseProfile.objects.get(slug=slug)
    answers = list(ProfileAnswer.objects.filter(profile=profile).select_related("question", "option"))
    chosen = {answer.option_id for answer in answers}
    for answer in answers:
        assert answer.option.question_id == answer.question_id, answer
    visible = visible_questions(chosen)
    answered = {answer.question_id for answer in answers}
    for question in visible:
        count = sum(1 for answer in answers if answer.question_id == question.pk)
        if question.required:
            assert count >= 1, f"{profile} leaves “{question.title}” unanswered"
        if question.kind == Question.Kind.SINGLE:
            assert count <= 1, f"{profile} gives several answers to single-choice “{question.title}”"
    assert answered <= {question.pk for question in visible}, f"{profile} answers a question it never sees"
    assert profile.expected_rationale.strip()
    assert profile.references.exists()


def test_every_row_passes_model_validation():
    for model in KNOWLEDGE_BASE_MODELS:
        for obj in model.objects.all():
            obj.full_clean()


def test_every_warning_rule_can_fire_and_cites_or_explains():
    for rule in ConsistencyRule.objects.prefetch_related("when_all__question"):
        triggers = list(rule.when_all.all())
        assert triggers, f"{rule} has no trigger"
        single_questions = [o.question_id for o in triggers if o.question.kind == Question.Kind.SINGLE]
        assert len(single_questions) == len(set(single_questions)), f"{rule} can never fire"
        assert len(rule.message) >= 60, rule


def test_the_shipped_knowledge_base_has_no_integrity_problems():
    assert engine.integrity_problems(knowledge.build()) == ()


def test_every_protocol_has_a_post_quantum_verdict_and_every_secrecy_answer_an_urgency():
    for protocol in Protocol.objects.all():
        assert Guidance.objects.filter(kind=Guidance.Kind.QUANTUM, protocols=protocol).exists(), protocol
    for option in Option.objects.filter(question__slug="data-lifetime"):
        assert Guidance.objects.filter(kind=Guidance.Kind.URGENCY, when_any=option).exists(), option


def test_every_setting_has_a_default_for_its_protocols():
    """For each protocol and key some setting must always apply: the last one in order has no conditions."""
    settings = Guidance.objects.filter(kind=Guidance.Kind.SETTING).prefetch_related(
        "protocols", "when_all", "when_any", "unless_any", "flows"
    )
    pairs = {(protocol.slug, item.key) for item in settings for protocol in item.protocols.all()}
    for protocol, key in pairs:
        candidates = [
            item
            for item in settings
            if item.key == key and protocol in {p.slug for p in item.protocols.all()}
        ]
        last = max(candidates, key=lambda item: item.order)
        assert not (last.when_all.exists() or last.when_any.exists() or last.unless_any.exists()), (
            protocol,
            key,
        )
