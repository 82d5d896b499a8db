"""Ratings that published sources pin down: each rule names its source, and a rating that contradicts it fails.

A rule compares the score of one or more (protocol, criterion) cells with a fixed value or with another
cell. The rules state only what the cited section supports; scores between those bounds stay a matter of
judgement for the maintainers.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from advisor import engine, knowledge

Cell = tuple[str, str]
"""A (protocol slug, criterion slug) pair, the key of a rating."""

RELATIONS: dict[str, Callable[[int, int], bool]] = {
    "==": operator.eq,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}

IPSEC = ("ipsec-esp-tunnel", "ipsec-esp-transport", "ipsec-ah")
ESP = ("ipsec-esp-tunnel", "ipsec-esp-transport")
TLS_FAMILY = ("tls", "tls-vpn-portal", "tls-vpn-tunnel")


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    claim: str
    source: str
    cells: tuple[Cell, ...]
    relation: str
    bound: int | Cell


def cells(criterion: str, *protocols: str) -> tuple[Cell, ...]:
    return tuple((protocol, criterion) for protocol in protocols)


RULES: tuple[Rule, ...] = (
    Rule(
        "esp-null-preferred-over-ah",
        "ESP with ENCR_NULL is preferred over AH for integrity-only protection",
        "RFC 8221 sections 4 and 5",
        cells("integrity-only", *ESP),
        ">=",
        ("ipsec-ah", "integrity-only"),
    ),
    Rule(
        "ah-below-esp-for-integrity-only",
        "AH is optional to implement and cannot cross NAT, so it rates below ESP-NULL for integrity only",
        "RFC 4301 section 3.2; RFC 3948 section 1",
        cells("integrity-only", "ipsec-ah"),
        "<",
        ("ipsec-esp-transport", "integrity-only"),
    ),
    Rule(
        "ah-cannot-cross-nat",
        "AH authenticates the addresses NAT rewrites and is left out of UDP encapsulation",
        "RFC 3948 section 1",
        cells("nat-traversal", "ipsec-ah"),
        "==",
        0,
    ),
    Rule(
        "ah-is-optional",
        "IPsec implementations must support ESP but only may support AH, so partners may lack it",
        "RFC 4301 section 3.2",
        cells("interoperability", "ipsec-ah"),
        "<=",
        1,
    ),
    Rule(
        "ah-has-nothing-to-keep-secret",
        "ESP adds confidentiality to the services AH offers, so AH leaves nothing for a post-quantum exchange to hide",
        "RFC 4301 section 3.2",
        cells("post-quantum", "ipsec-ah"),
        "==",
        0,
    ),
    Rule(
        "wireguard-not-fips-approved",
        "WireGuard's fixed primitives (Curve25519, ChaCha20-Poly1305, BLAKE2s) are not FIPS-approved",
        "WireGuard paper (NDSS 2017) section 1; FIPS 140-3",
        cells("approved-crypto", "wireguard"),
        "==",
        0,
    ),
    Rule(
        "wireguard-is-udp-only",
        "WireGuard encapsulates packets in UDP only, which a TCP-443-only network blocks",
        "WireGuard paper (NDSS 2017) abstract",
        cells("firewall-traversal", "wireguard"),
        "==",
        0,
    ),
    Rule(
        "wireguard-always-encrypts",
        "Every WireGuard transport message is ChaCha20-Poly1305 encrypted; there is no integrity-only mode",
        "WireGuard paper (NDSS 2017) section 5.4.6",
        cells("integrity-only", "wireguard"),
        "==",
        0,
    ),
    Rule(
        "wireguard-psk-is-not-a-key-exchange",
        "WireGuard's optional pre-shared symmetric key is not a standardised hybrid key exchange",
        "WireGuard paper (NDSS 2017) section 5.2; wg(8)",
        cells("post-quantum", "wireguard"),
        "<=",
        1,
    ),
    Rule(
        "wireguard-cryptokey-routing",
        "Cryptokey routing sends each packet to the one peer owning its destination, so multicast has no peer",
        "WireGuard paper (NDSS 2017) section 2",
        cells("routed-traffic", "wireguard"),
        "<=",
        2,
    ),
    Rule(
        "tls-passes-tcp-443",
        "TLS needs only a reliable stream, and TLS VPNs use the same HTTPS connections browsers make",
        "RFC 8446 section 1; NIST SP 800-113 executive summary",
        cells("firewall-traversal", *TLS_FAMILY),
        ">=",
        4,
    ),
    Rule(
        "ipsec-and-wireguard-blocked-on-tcp-443",
        "IKE uses UDP 500/4500 and ESP is IP protocol 50; IKE/ESP over TCP must be supported on TCP 4500",
        "RFC 7296 sections 2 and 2.23; RFC 9329",
        cells("firewall-traversal", *IPSEC, "wireguard"),
        "<=",
        1,
    ),
    Rule(
        "clientless-with-a-browser",
        "Browsers speak HTTPS natively and the SSL VPN portal needs nothing installed",
        "NIST SP 800-113 executive summary",
        cells("clientless", "tls", "tls-vpn-portal"),
        ">=",
        4,
    ),
    Rule(
        "others-need-installed-software",
        "IPsec, WireGuard and TLS VPN tunnels need a configured client or host policy on the device",
        "RFC 4301 section 4.4; NIST SP 800-113 (portal and tunnel types); WireGuard paper (NDSS 2017) section 1",
        cells("clientless", *IPSEC, "tls-vpn-tunnel", "wireguard"),
        "<=",
        1,
    ),
    Rule(
        "gateway-sas-are-tunnel-mode",
        "An SA that ends on a security gateway must be tunnel mode, so transport mode gives no network access",
        "RFC 4301 section 4.1",
        cells("remote-network-access", "ipsec-esp-transport"),
        "<=",
        1,
    ),
    Rule(
        "tunnel-mode-joins-networks",
        "Gateways must support tunnel mode; transport mode joins networks only with GRE or IP-in-IP added",
        "RFC 4301 section 4.1",
        cells("site-to-site", "ipsec-esp-tunnel"),
        ">",
        ("ipsec-esp-transport", "site-to-site"),
    ),
    Rule(
        "transport-mode-may-carry-gre-and-routing",
        "Transport-mode SAs between gateways may carry GRE, IP-in-IP or dynamic routing",
        "RFC 4301 section 4.1",
        cells("routed-traffic", "ipsec-esp-transport"),
        ">=",
        2,
    ),
    Rule(
        "tls-carries-no-ip-packets",
        "TLS protects application connections, not IP packets, so routing protocols cannot cross it",
        "RFC 8446 section 1; NIST SP 800-113 executive summary",
        cells("routed-traffic", "tls", "tls-vpn-portal"),
        "==",
        0,
    ),
    Rule(
        "bcp-195-forbids-null-encryption",
        "BCP 195 forbids NULL-encryption suites and RFC 9150 integrity-only suites are not for general use",
        "RFC 9325 section 4.1; RFC 9150 abstract",
        cells("integrity-only", *TLS_FAMILY),
        "<=",
        1,
    ),
    Rule(
        "tls-hybrid-ml-kem-is-standard-and-shipping",
        "X25519MLKEM768 (codepoint 4588) is standardised and on by default in Chrome 131+ and OpenSSL 3.5+",
        "RFC 10024; OpenSSL 3.5.0 release notes; Chrome 131 announcement (Google, September 2024)",
        cells("post-quantum", "tls"),
        ">=",
        4,
    ),
    Rule(
        "ikev2-multiple-key-exchanges-ship",
        "IKEv2 additional key exchanges with ML-KEM ship in strongSwan 6.0.0 and libreswan 5.4",
        "RFC 9370; draft-ietf-ipsecme-ikev2-mlkem; strongSwan 6.0.0 NEWS; libreswan 5.4 CHANGES",
        cells("post-quantum", *ESP),
        ">=",
        3,
    ),
    Rule(
        "ikev2-esp-are-interoperable-standards",
        "IKEv2 and ESP have mandatory-to-implement algorithms so gateways from different vendors interoperate",
        "RFC 8247; RFC 8221 section 5",
        cells("interoperability", "ipsec-esp-tunnel"),
        ">=",
        4,
    ),
    Rule(
        "tls-vpn-tunnels-are-non-standard",
        "NSA and CISA class SSL/TLS VPN tunnels as non-standard, so a partner's equipment cannot terminate them",
        "NSA/CISA, Selecting and Hardening Remote Access VPN Solutions (2021)",
        cells("interoperability", "tls-vpn-tunnel"),
        "<=",
        1,
    ),
    Rule(
        "esp-carries-media-packet-by-packet",
        "ESP protects each UDP media packet on its own, with no TCP-over-TCP retransmission",
        "RFC 4303 section 2",
        cells("realtime-traffic", *ESP),
        ">",
        ("tls-vpn-tunnel", "realtime-traffic"),
    ),
    Rule(
        "portal-confines-users-to-published-apps",
        "The portal publishes named web applications and never grants network-level access",
        "NIST SP 800-113 executive summary",
        cells("least-privilege", "tls-vpn-portal"),
        ">",
        ("tls-vpn-tunnel", "least-privilege"),
    ),
)


@pytest.fixture
def kb(db) -> engine.KnowledgeBase:
    return knowledge.current()


def score(kb: engine.KnowledgeBase, cell: Cell) -> int:
    rating = kb.ratings.get(cell)
    if rating is None:
        pytest.fail(f"the knowledge base has no rating of {cell[0]} on {cell[1]}")
    return rating.score


def describe(kb: engine.KnowledgeBase, bound: int | Cell) -> str:
    if isinstance(bound, int):
        return str(bound)
    return f"{bound[0]} on {bound[1]} ({score(kb, bound)})"


def test_rules_are_well_formed() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names)), "two rules share a name"
    for rule in RULES:
        assert rule.relation in RELATIONS, rule.name
        assert rule.cells and rule.claim and rule.source, rule.name


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_rating_agrees_with_its_source(kb: engine.KnowledgeBase, rule: Rule) -> None:
    compare = RELATIONS[rule.relation]
    bound = rule.bound if isinstance(rule.bound, int) else score(kb, rule.bound)
    contradicted = [
        f"{protocol} on {criterion} is {score(kb, (protocol, criterion))}"
        for protocol, criterion in rule.cells
        if not compare(score(kb, (protocol, criterion)), bound)
    ]
    assert not contradicted, (
        f"Rule '{rule.name}' ({rule.source}): {rule.claim}. Expected {rule.relation} "
        f"{describe(kb, rule.bound)}, but " + "; ".join(contradicted) + "."
    )


def test_every_rating_explains_itself_and_cites_a_known_source(kb: engine.KnowledgeBase) -> None:
    problems: list[str] = []
    for (protocol, criterion), rating in sorted(kb.ratings.items()):
        where = f"{protocol} on {criterion}"
        if not rating.rationale.strip():
            problems.append(f"{where} has no rationale")
        if not rating.references:
            problems.append(f"{where} cites no reference")
        unknown = sorted(slug for slug in rating.references if slug not in kb.references)
        if unknown:
            problems.append(f"{where} cites unknown references {unknown}")
    assert not problems, "\n".join(problems)
