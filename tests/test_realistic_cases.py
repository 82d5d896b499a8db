"""The shipped knowledge base on realistic cases it was not tuned on: designs, sentences, guidance, levers."""

from __future__ import annotations

import pytest

from advisor import engine, knowledge
from tests.realistic_cases import CASES

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def kb(django_db_setup, django_db_blocker) -> engine.KnowledgeBase:
    with django_db_blocker.unblock():
        return knowledge.build()


@pytest.mark.parametrize("slug", CASES)
def test_realistic_case_gets_the_expected_design_and_guidance(kb, slug):
    case = CASES[slug]
    assert engine.validate(kb, case.answers) == {}
    result = engine.recommend(kb, case.answers)
    design = [(part.flow, tuple(layer.protocol for layer in part.layers)) for part in result.parts]
    assert design == case.design, [part.why for part in result.parts]
    in_parts = {slug for part in result.parts for slug in part.guidance}
    assert set(case.part_guidance) <= in_parts
    assert set(case.design_guidance) <= set(result.guidance)
    for part in result.parts:
        assert part.why and all(sentence.endswith(".") for sentence in part.why)
        excluded = {e.protocol for e in part.excluded}
        assert not excluded & set(part.protocols)
        assert part.runner_up is None or part.runner_up not in excluded


@pytest.mark.parametrize("slug", CASES)
def test_realistic_case_levers_are_few_realistic_and_never_weaken_protection(kb, slug):
    result = engine.recommend(kb, CASES[slug].answers)
    assert len(result.answer_changes) <= engine.MAX_LEVERS
    for change in result.answer_changes:
        question = kb.question(change.question)
        assert not question.option(change.option).weakens
        assert question.lever_cost > 0 or change.settles_open_question
        if not change.settles_open_question and change.change != "remove":
            assert question.option(change.option).offered_as_change


def test_an_open_network_path_is_an_assumption_and_only_tcp_443_is_the_lever(kb):
    result = engine.recommend(kb, CASES["managed-laptops-unknowns"].answers)
    assert "path" in {a.question for a in result.assumptions}
    sentences = [engine.describe_change(kb, change) for change in result.answer_changes]
    assert any("Only TCP 443" in s and "SSL/TLS VPN tunnel" in s for s in sentences), sentences


def test_integrity_only_between_hosts_runs_esp_with_null_encryption(kb):
    (part,) = engine.recommend(kb, CASES["inspectable-billing-link"].answers).parts
    assert "ENCR_NULL" in part.layers[0].mode
    assert {"tls", "wireguard", "tls-vpn-tunnel"} <= {e.protocol for e in part.excluded}
    assert part.close_call


def test_two_layers_without_tls_capable_applications_nest_two_independent_ipsec_layers(kb):
    (part,) = engine.recommend(kb, CASES["classified-two-layers-legacy"].answers).parts
    assert [layer.role for layer in part.layers] == ["outer", "inner"]
    assert any("a second, independent" in sentence for sentence in part.why)


def test_the_why_names_the_requirement_that_decided_it(kb):
    """Guest networks that pass only TCP 443 are why the consultants get a TLS VPN; the report must say so."""
    (part,) = engine.recommend(kb, CASES["consultants-on-guest-wifi"].answers).parts
    why = " ".join(part.why)
    assert "Without your answer “Only TCP 443 passes" in why
    assert "IPsec ESP, tunnel mode (IKEv2) would have come first" in why
    assert why.startswith("SSL/TLS VPN tunnel (client) best meets what your answers weigh most")


def test_a_public_service_explains_that_only_tls_remains(kb):
    public, _ = engine.recommend(kb, CASES["online-shop"].answers).parts
    assert "Members of the public use the browsers and apps they already have" in " ".join(public.why)
    assert public.why[-1] == "TLS 1.3 / 1.2 is the only protocol left that meets every requirement."
