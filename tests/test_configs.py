"""Configuration files of a part: chosen as the spec lists, stamped, secret-free, and accepted by the programs.

Each scenario is a template context as the engine fills it, with realistic settings
values. Where Debian ships an offline check (nginx, apache2, haproxy, postconf,
doveconf) the rendered file goes through it; swanctl.conf, libreswan's ipsec.conf,
wg-quick files and the PowerShell script are parsed here against their grammar.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from advisor import bundle, configs, knowledge, reports

STAMP = {
    "product": "Protocol Advisor",
    "knowledge_base_version": 3,
    "date": "2026-11-28",
    "title": "Head office and shop",
    "permalink": "https://advisor.example.org/reports/5b0c2f8e-2d4a-4f7e-9a61-0c3e5d7b9f10/",
}

FIREWALL_IPSEC = ["UDP 500 between the peers (IKE)", "UDP 4500 between the peers (NAT traversal, ESP in UDP)"]
IPSEC_TUNNEL = {
    "strongswan_ike": ["aes256gcm16-prfsha256-ecp256", "aes256-sha256-modp2048"],
    "strongswan_esp": ["aes256gcm16-ecp256", "aes256-sha256-modp2048"],
    "libreswan_ike": ["aes_gcm256-sha2_256;dh19", "aes256-sha2_256;modp2048"],
    "libreswan_esp": ["aes_gcm256-null;dh19", "aes256-sha2_256;modp2048"],
    "min_versions": ["strongSwan 5.9 or later (swanctl)", "libreswan 5.0 or later"],
    "firewall": FIREWALL_IPSEC,
}
IPSEC_INTEGRITY_ONLY = {
    **IPSEC_TUNNEL,
    "strongswan_esp": ["null-sha256-ecp256"],
    "libreswan_esp": ["null-sha2_256;dh19"],
}
IPSEC_ML_KEM = {
    **IPSEC_TUNNEL,
    "strongswan_ike": ["aes256gcm16-prfsha384-ecp384-ke1_mlkem1024"],
    "strongswan_esp": ["aes256gcm16-ecp384-ke1_mlkem1024"],
    "min_versions": ["strongSwan 6.0.0 or later (swanctl)"],
}
IPSEC_AH = {
    "strongswan_ah": ["sha256-ecp256"],
    "min_versions": ["strongSwan 5.9 or later (swanctl)"],
    "firewall": ["UDP 500 between the hosts (IKE)", "IP protocol 51 between the hosts (AH)"],
}
WIREGUARD = {
    "wireguard_port": ["51820"],
    "wireguard_mtu": ["1420"],
    "wireguard_keepalive": ["25"],
    "min_versions": ["Linux 5.6 or later (WireGuard in the kernel)"],
    "firewall": ["UDP 51820 to each peer"],
}
TLS = {
    "tls_protocols": ["TLSv1.2", "TLSv1.3"],
    "tls13_ciphersuites": [
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
    ],
    "tls12_ciphers": [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ],
    "tls_groups": ["X25519", "prime256v1", "secp384r1"],
    "tls_hybrid_groups": ["X25519MLKEM768"],
    "hsts": ["max-age=63072000"],
    "min_versions": ["OpenSSL 3.0", "nginx 1.19.4", "Apache httpd 2.4.36", "HAProxy 2.2"],
    "firewall": ["TCP 443 from the clients", "TCP 80 from the clients (redirect to HTTPS only)"],
}
TLS_13_CNSA = {
    **TLS,
    "tls_protocols": ["TLSv1.3"],
    "tls13_ciphersuites": ["TLS_AES_256_GCM_SHA384"],
    "tls12_ciphers": [],
    "tls_groups": ["secp384r1"],
    "tls_hybrid_groups": ["SecP384r1MLKEM1024"],
}

NAMES = {
    "ipsec-esp-tunnel": "IPsec ESP, tunnel mode",
    "ipsec-esp-transport": "IPsec ESP, transport mode",
    "ipsec-ah": "IPsec AH",
    "wireguard": "WireGuard",
    "tls": "TLS",
    "tls-vpn-portal": "SSL/TLS VPN, portal",
}


def part(flow: str | None, *protocols: str, answers: tuple[str, ...] = (), **settings: dict) -> dict:
    """A template context for one part; a second protocol makes it a layered part (outer, inner)."""
    roles = ["single"] if len(protocols) == 1 else ["outer", "inner"]
    return {
        "stamp": STAMP,
        "part": {
            "name": "Link between sites" if flow == "site-link" else "Part under test",
            "flow": flow,
            "layers": [
                {
                    "role": role,
                    "protocol": {"slug": slug, "name": NAMES[slug]},
                    "mode": f"{NAMES[slug]}, as chosen",
                }
                for role, slug in zip(roles, protocols, strict=True)
            ],
        },
        "answers": set(answers),
        "settings": {slug.replace("_", "-"): values for slug, values in settings.items()},
    }


SCENARIOS = {
    "site-link tunnel behind NAT": part(
        "site-link", "ipsec-esp-tunnel", answers=("path:nat",), ipsec_esp_tunnel=IPSEC_TUNNEL
    ),
    "site-link tunnel, only TCP 443": part(
        "site-link", "ipsec-esp-tunnel", answers=("path:only-443",), ipsec_esp_tunnel=IPSEC_TUNNEL
    ),
    "remote access": part("remote-access", "ipsec-esp-tunnel", ipsec_esp_tunnel=IPSEC_TUNNEL),
    "remote access with ML-KEM only": part(
        "third-party-access", "ipsec-esp-tunnel", answers=("compliance:cnsa",), ipsec_esp_tunnel=IPSEC_ML_KEM
    ),
    "host-to-host transport": part("host-link", "ipsec-esp-transport", ipsec_esp_transport=IPSEC_TUNNEL),
    "integrity-only ESP tunnel": part(
        "site-link",
        "ipsec-esp-tunnel",
        answers=("protection:integrity-only",),
        ipsec_esp_tunnel=IPSEC_INTEGRITY_ONLY,
    ),
    "integrity-only ESP remote access": part(
        "remote-access",
        "ipsec-esp-tunnel",
        answers=("protection:integrity-only",),
        ipsec_esp_tunnel=IPSEC_INTEGRITY_ONLY,
    ),
    "integrity-only ESP transport": part(
        "host-link",
        "ipsec-esp-transport",
        answers=("protection:integrity-only",),
        ipsec_esp_transport=IPSEC_INTEGRITY_ONLY,
    ),
    "AH between hosts": part(
        "host-link",
        "ipsec-ah",
        answers=("protection:integrity-only", "path:nothing-restrictive"),
        ipsec_ah=IPSEC_AH,
    ),
    "AH through NAT": part("host-link", "ipsec-ah", answers=("path:nat",), ipsec_ah=IPSEC_AH),
    "WireGuard site link, long-lived data": part(
        "site-link", "wireguard", answers=("data-lifetime:long",), wireguard=WIREGUARD
    ),
    "WireGuard host link": part("host-link", "wireguard", wireguard=WIREGUARD),
    "WireGuard remote access, long-lived data": part(
        "remote-access", "wireguard", answers=("data-lifetime:long",), wireguard=WIREGUARD
    ),
    "TLS web": part("public-service", "tls", answers=("traffic:web",), tls=TLS),
    "TLS mail": part("app-service", "tls", answers=("traffic:email",), tls=TLS),
    "TLS API": part("app-service", "tls", answers=("traffic:apis",), tls=TLS),
    "TLS 1.3 only, CNSA, web and mail": part(
        "public-service", "tls", answers=("traffic:web", "traffic:email", "compliance:cnsa"), tls=TLS_13_CNSA
    ),
    "TLS VPN portal": part("third-party-access", "tls-vpn-portal", tls_vpn_portal=TLS),
    "IPsec outer layer, TLS inner layer": part(
        "site-link",
        "ipsec-esp-tunnel",
        "tls",
        answers=("compliance:two-layers", "traffic:web"),
        ipsec_esp_tunnel=IPSEC_TUNNEL,
        tls=TLS,
    ),
    "two independent IPsec layers": part(
        "site-link",
        "ipsec-esp-tunnel",
        "ipsec-esp-tunnel",
        answers=("compliance:two-layers",),
        ipsec_esp_tunnel=IPSEC_TUNNEL,
    ),
}

PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*>")
KEY_MATERIAL = {
    "PEM block": re.compile(r"-----BEGIN [A-Z ]+-----"),
    "WireGuard-style base64 key": re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]="),
    "long hex string": re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{32,}(?![0-9a-fA-F])"),
    "secret or PSK value": re.compile(r"^\s*(secret|psk|PresharedKey)\s*=\s*(?!<)\S", re.M | re.I),
}
ENCRYPTION = re.compile(r"^(aes|3des|des|cast|blowfish|camellia|chacha20|serpent|twofish)", re.I)


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, str]]:
    return {name: configs.render_part(context) for name, context in SCENARIOS.items()}


def readme_placeholders(readme: str) -> set[str]:
    listing = readme.partition("\n## Placeholders\n")[2]
    return set(re.findall(r"^- `(<[A-Z][A-Z0-9_]*>)`: \S.*\n  `\S.*`$", listing, re.M))


# Every scenario -------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_file_starts_with_the_stamp_in_its_own_comment_syntax(rendered, scenario):
    for path, text in rendered[scenario].items():
        head = text.split("\n\n", 1)[0]
        opener = "<!--" if path.endswith(".md") else "#"
        assert head.startswith(opener), path
        assert "Protocol Advisor, knowledge base version 3, 2026-11-28" in head, path
        assert STAMP["title"] in head and STAMP["permalink"] in head, path
        if opener == "#":
            assert all(line.startswith("# ") for line in head.splitlines()), path


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_readme_explains_every_placeholder_with_a_command(rendered, scenario):
    files = rendered[scenario]
    listed = readme_placeholders(files["README.md"])
    for path, text in files.items():
        missing = set(PLACEHOLDER.findall(text)) - listed
        assert not missing, f"{path}: {sorted(missing)} not in README.md"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_nothing_looks_like_key_material(rendered, scenario):
    for path, text in rendered[scenario].items():
        for what, pattern in KEY_MATERIAL.items():
            assert not pattern.search(text), f"{path} holds a {what}"


def test_every_known_placeholder_is_used_by_some_file(rendered):
    used = {
        name[1:-1]
        for files in rendered.values()
        for text in files.values()
        for name in PLACEHOLDER.findall(text)
    }
    assert used == set(configs.PLACEHOLDERS)


@pytest.mark.parametrize("scenario", [name for name in SCENARIOS if "integrity-only" in name])
def test_an_integrity_only_esp_proposal_holds_no_encryption_algorithm(rendered, scenario):
    files = rendered[scenario]
    swanctl = parse_swanctl(files["strongswan/swanctl.conf"])
    (connection,) = swanctl["connections"].values()
    (child,) = connection["children"].values()
    proposals = child["esp_proposals"].split(",")
    if "libreswan/ipsec.conf" in files:
        (conn,) = parse_ipsec_conf(files["libreswan/ipsec.conf"]).values()
        proposals += conn["esp"].split(",")
    for proposal in proposals:
        keywords = re.split(r"[-;+]", proposal)
        assert keywords[0] == "null", proposal
        assert not any(ENCRYPTION.match(keyword) for keyword in keywords), proposal
    assert "not encrypted" in files["strongswan/swanctl.conf"]
    assert "anyone on the path can read it" in files["README.md"]


# Which files a part gets ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "paths"),
    [
        ("site-link tunnel behind NAT", {"strongswan/swanctl.conf", "libreswan/ipsec.conf"}),
        ("remote access", {"strongswan/swanctl.conf", "client/windows-ikev2.ps1"}),
        ("remote access with ML-KEM only", {"strongswan/swanctl.conf"}),
        ("host-to-host transport", {"strongswan/swanctl.conf"}),
        ("AH between hosts", {"strongswan/swanctl.conf"}),
        ("AH through NAT", set()),
        ("WireGuard site link, long-lived data", {"wireguard/wg0-a.conf", "wireguard/wg0-b.conf"}),
        (
            "WireGuard remote access, long-lived data",
            {"wireguard/wg0-gateway.conf", "wireguard/wg0-client.conf"},
        ),
        ("TLS web", {"nginx/site.conf", "apache/site.conf", "haproxy/haproxy.cfg"}),
        ("TLS mail", {"postfix/main.cf", "dovecot/10-ssl.conf"}),
        ("TLS API", {"nginx/site.conf", "apache/site.conf", "haproxy/haproxy.cfg"}),
        ("TLS VPN portal", set()),
        (
            "IPsec outer layer, TLS inner layer",
            {
                "outer/strongswan/swanctl.conf",
                "outer/libreswan/ipsec.conf",
                "inner/nginx/site.conf",
                "inner/apache/site.conf",
                "inner/haproxy/haproxy.cfg",
            },
        ),
        (
            "two independent IPsec layers",
            {
                "outer/strongswan/swanctl.conf",
                "outer/libreswan/ipsec.conf",
                "inner/strongswan/swanctl.conf",
                "inner/libreswan/ipsec.conf",
            },
        ),
    ],
)
def test_a_part_gets_the_files_its_protocols_flow_and_answers_call_for(rendered, scenario, paths):
    files = rendered[scenario]
    assert set(files) == {"README.md", *paths}
    assert next(iter(files)) == "README.md"
    for path in paths:
        assert f"`{path}`" in files["README.md"], path


def test_ah_through_nat_says_why_there_is_no_file(rendered):
    readme = rendered["AH through NAT"]["README.md"]
    assert "AH cannot cross NAT" in readme and "NULL cipher" in readme


def test_only_tcp_443_warns_in_the_readme_and_in_each_file(rendered):
    files = rendered["site-link tunnel, only TCP 443"]
    assert "RFC 9329" in files["README.md"]
    for path in ("strongswan/swanctl.conf", "libreswan/ipsec.conf"):
        assert "WARNING: only TCP 443 passes" in files[path], path
    assert "WARNING" not in rendered["site-link tunnel behind NAT"]["strongswan/swanctl.conf"]


def test_a_remote_access_design_beyond_windows_says_so_instead_of_a_script(rendered):
    readme = rendered["remote access with ML-KEM only"]["README.md"]
    assert "No Windows script" in readme


def test_the_tls_vpn_readme_lists_the_settings_for_the_product(rendered):
    readme = rendered["TLS VPN portal"]["README.md"]
    assert "No configuration file" in readme
    for value in (
        *TLS["tls_protocols"],
        *TLS["tls13_ciphersuites"],
        *TLS["tls_groups"],
        "TCP 443 from the clients",
    ):
        assert value in readme, value


def test_hsts_only_for_the_web(rendered):
    for path in ("nginx/site.conf", "apache/site.conf", "haproxy/haproxy.cfg"):
        assert "Strict-Transport-Security" in rendered["TLS web"][path], path
        assert "Strict-Transport-Security" not in rendered["TLS API"][path], path


def test_the_readme_lists_firewall_openings_and_versions_from_the_settings(rendered):
    readme = rendered["site-link tunnel behind NAT"]["README.md"]
    for line in (*FIREWALL_IPSEC, *IPSEC_TUNNEL["min_versions"]):
        assert f"- {line}\n" in readme, line
    assert "swanctl --list-sas" in readme
    assert (
        "wg show wg0 latest-handshakes" in rendered["WireGuard remote access, long-lived data"]["README.md"]
    )
    assert "-tls1_3" in rendered["TLS web"]["README.md"]


def test_a_stamp_cannot_break_out_of_its_comment():
    context = part("host-link", "wireguard", wireguard=WIREGUARD)
    context["stamp"] = {**STAMP, "title": "Shop\nPrivateKey = injected --> <!--"}
    files = configs.render_part(context)
    for path, text in files.items():
        assert not re.search(r"^PrivateKey = injected", text, re.M), path
        assert len(text.split("\n\n", 1)[0].splitlines()) == (5 if path.endswith(".md") else 3), path
    assert files["README.md"].count("<!--") == 1


def test_integrity_only_settings_that_encrypt_are_refused():
    context = part(
        "site-link", "ipsec-esp-tunnel", answers=("protection:integrity-only",), ipsec_esp_tunnel=IPSEC_TUNNEL
    )
    with pytest.raises(ValueError, match="integrity-only"):
        configs.render_part(context)


def test_missing_settings_are_an_error_not_a_gap():
    incomplete = {key: value for key, value in TLS.items() if key != "tls_groups"}
    with pytest.raises(ValueError, match="tls_groups"):
        configs.render_part(part("public-service", "tls", tls=incomplete))


# strongSwan swanctl.conf ---------------------------------------------------------------------

SWANCTL_KEYS = {
    "connection": {"version", "local_addrs", "remote_addrs", "proposals", "pools", "dpd_delay"},
    "auth": {"auth", "certs", "id", "cacerts", "eap_id"},
    "child": {"mode", "local_ts", "remote_ts", "esp_proposals", "ah_proposals", "start_action", "dpd_action"},
    "pool": {"addrs", "dns"},
}
"""The swanctl.conf(5) keywords the templates use, at the level each belongs to."""


def parse_swanctl(text: str) -> dict:
    """swanctl.conf's grammar: nested `name {` ... `}` sections and `key = value` lines, # comments."""
    root: dict = {}
    stack = [root]
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if section := re.fullmatch(r"([A-Za-z0-9_.-]+)\s*\{", line):
            assert section[1] not in stack[-1], f"line {number}: {section[1]} twice"
            stack[-1][section[1]] = {}
            stack.append(stack[-1][section[1]])
        elif line == "}":
            stack.pop()
            assert stack, f"line {number}: unbalanced }}"
        elif setting := re.fullmatch(r"([a-z0-9_]+)\s*=\s*(\S(?:.*\S)?)", line):
            assert setting[1] not in stack[-1], f"line {number}: {setting[1]} twice"
            stack[-1][setting[1]] = setting[2]
        else:
            pytest.fail(f"line {number} is not swanctl.conf syntax: {raw!r}")
    assert len(stack) == 1, "unclosed section"
    return root


def check_swanctl_keywords(tree: dict) -> None:
    for connection in tree["connections"].values():
        assert {k for k, v in connection.items() if isinstance(v, str)} <= SWANCTL_KEYS["connection"]
        assert connection["version"] == "2"
        for auth in (connection["local"], connection["remote"]):
            assert set(auth) <= SWANCTL_KEYS["auth"]
        for child in connection["children"].values():
            assert set(child) <= SWANCTL_KEYS["child"]
    for pool in tree.get("pools", {}).values():
        assert set(pool) <= SWANCTL_KEYS["pool"]
    assert set(tree) <= {"connections", "pools"}


def swanctl_of(files: dict[str, str], prefix: str = "") -> tuple[dict, dict, dict]:
    tree = parse_swanctl(files[f"{prefix}strongswan/swanctl.conf"])
    check_swanctl_keywords(tree)
    (connection,) = tree["connections"].values()
    (child,) = connection["children"].values()
    return tree, connection, child


def test_swanctl_site_link_holds_the_settings_and_the_site_networks(rendered):
    _, connection, child = swanctl_of(rendered["site-link tunnel behind NAT"])
    assert connection["proposals"] == ",".join(IPSEC_TUNNEL["strongswan_ike"])
    assert (
        connection["local_addrs"] == "<PEER_A_ADDRESS>" and connection["remote_addrs"] == "<PEER_B_ADDRESS>"
    )
    assert connection["local"] == {"auth": "pubkey", "certs": "<PEER_A_CERT_FILE>", "id": "<PEER_A_ID>"}
    assert connection["remote"] == {"auth": "pubkey", "id": "<PEER_B_ID>"}
    assert child["esp_proposals"] == ",".join(IPSEC_TUNNEL["strongswan_esp"])
    assert child["mode"] == "tunnel" and child["start_action"] == "trap"
    assert (child["local_ts"], child["remote_ts"]) == ("<SITE_A_SUBNETS>", "<SITE_B_SUBNETS>")


def test_swanctl_remote_access_has_a_pool_and_certificate_authentication(rendered):
    files = rendered["remote access"]
    tree, connection, child = swanctl_of(files)
    (pool_name,) = tree["pools"]
    assert connection["pools"] == pool_name
    assert tree["pools"][pool_name] == {"addrs": "<VPN_CLIENT_POOL>", "dns": "<INTERNAL_DNS_SERVERS>"}
    assert connection["local"]["auth"] == connection["remote"]["auth"] == "pubkey"
    assert connection["remote"]["cacerts"] == "<CA_CERT_FILE>"
    assert child == {
        "local_ts": "<INTERNAL_SUBNETS>",
        "esp_proposals": ",".join(IPSEC_TUNNEL["strongswan_esp"]),
        "dpd_action": "clear",
    }


def test_swanctl_remote_access_alternatives_are_valid_once_uncommented(rendered):
    text = rendered["remote access"]["strongswan/swanctl.conf"]
    blocks = re.findall(r"^ *# (remote \{\n(?: *# .*\n)*? *# \})$", text, re.M)
    methods = set()
    for block in blocks:
        fragment = re.sub(r"^ *# ?", "", block, flags=re.M)
        remote = parse_swanctl(fragment)["remote"]
        assert set(remote) <= SWANCTL_KEYS["auth"]
        methods.add(remote["auth"])
    assert methods == {"eap-tls", "eap-mschapv2"}


def test_swanctl_transport_and_ah_are_host_to_host(rendered):
    _, _, transport = swanctl_of(rendered["host-to-host transport"])
    assert transport["mode"] == "transport" and "local_ts" not in transport
    _, connection, ah = swanctl_of(rendered["AH between hosts"])
    assert ah["ah_proposals"] == ",".join(IPSEC_AH["strongswan_ah"]) and "esp_proposals" not in ah
    assert ah["mode"] == "transport"
    assert connection["proposals"] == "default"


def test_two_ipsec_layers_keep_separate_folders(rendered):
    files = rendered["two independent IPsec layers"]
    for prefix in ("outer/", "inner/"):
        swanctl_of(files, prefix)
    assert "(outer layer)" in files["README.md"] and "(inner layer)" in files["README.md"]


# libreswan ipsec.conf -------------------------------------------------------------------------

LIBRESWAN_CONN_KEYS = {
    "keyexchange",
    "left",
    "leftid",
    "leftcert",
    "leftsubnet",
    "right",
    "rightid",
    "rightsubnet",
    "ike",
    "esp",
    "type",
    "auto",
}


def parse_ipsec_conf(text: str) -> dict[str, dict[str, str]]:
    """ipsec.conf's grammar: `conn name` at the margin, then indented key=value lines (and indented comments)."""
    conns: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        if raw[0] in " \t":
            assert current is not None, f"line {number}: indented line outside a section"
            line = raw.strip()
            if line.startswith("#"):
                continue
            setting = re.fullmatch(r"([a-z0-9-]+)=(\S+)", line)
            assert setting, f"line {number} is not key=value: {raw!r}"
            assert setting[1] not in current, f"line {number}: {setting[1]} twice"
            current[setting[1]] = setting[2]
        elif raw.startswith("#"):
            assert current is None, f"line {number}: a comment inside a section must be indented"
        else:
            section = re.fullmatch(r"conn ([A-Za-z][A-Za-z0-9._-]*)", raw)
            assert section, f"line {number} is not a section header: {raw!r}"
            current = conns[section[1]] = {}
    return conns


def test_libreswan_conn_holds_the_settings(rendered):
    (conn,) = parse_ipsec_conf(rendered["site-link tunnel behind NAT"]["libreswan/ipsec.conf"]).values()
    assert set(conn) == LIBRESWAN_CONN_KEYS
    assert conn["ike"] == ",".join(IPSEC_TUNNEL["libreswan_ike"])
    assert conn["esp"] == ",".join(IPSEC_TUNNEL["libreswan_esp"])
    assert (conn["keyexchange"], conn["type"], conn["auto"]) == ("ikev2", "tunnel", "start")
    assert (conn["leftsubnet"], conn["rightsubnet"]) == ("<SITE_A_SUBNETS>", "<SITE_B_SUBNETS>")


# Windows client script ----------------------------------------------------------------------

WINDOWS_VALUES = {
    "EncryptionMethod": {"DES", "DES3", "AES128", "AES192", "AES256", "GCMAES128", "GCMAES256"},
    "IntegrityCheckMethod": {"MD5", "SHA1", "SHA256", "SHA384"},
    "DHGroup": {"None", "Group1", "Group2", "Group14", "ECP256", "ECP384", "Group24"},
    "CipherTransformConstants": {
        "DES",
        "DES3",
        "AES128",
        "AES192",
        "AES256",
        "GCMAES128",
        "GCMAES192",
        "GCMAES256",
        "None",
    },
    "AuthenticationTransformConstants": {
        "MD596",
        "SHA196",
        "SHA256128",
        "GCMAES128",
        "GCMAES192",
        "GCMAES256",
        "None",
    },
    "PfsGroup": {"None", "PFS1", "PFS2", "PFS2048", "ECP256", "ECP384", "PFSMM", "PFS24"},
}
"""The values Set-VpnConnectionIPsecConfiguration accepts, parameter by parameter."""


def powershell_command(script: str, cmdlet: str) -> dict[str, str]:
    joined = re.sub(r"`\n\s*", " ", script)
    (line,) = [line for line in joined.splitlines() if line.strip().startswith(f"{cmdlet} ")]
    return dict(re.findall(r"-(\w+)(?: ([^\s-][^\s]*))?", line.split(" ", 1)[1]))


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        (
            "remote access",
            {
                "EncryptionMethod": "GCMAES256",
                "IntegrityCheckMethod": "SHA256",
                "DHGroup": "ECP256",
                "CipherTransformConstants": "GCMAES256",
                "AuthenticationTransformConstants": "GCMAES256",
                "PfsGroup": "ECP256",
            },
        ),
        (
            "integrity-only ESP remote access",
            {
                "EncryptionMethod": "GCMAES256",
                "IntegrityCheckMethod": "SHA256",
                "DHGroup": "ECP256",
                "CipherTransformConstants": "None",
                "AuthenticationTransformConstants": "SHA256128",
                "PfsGroup": "ECP256",
            },
        ),
    ],
)
def test_the_windows_script_matches_the_gateway_proposals(rendered, scenario, expected):
    script = rendered[scenario]["client/windows-ikev2.ps1"]
    added = powershell_command(script, "Add-VpnConnection")
    assert added["TunnelType"] == "Ikev2" and added["AuthenticationMethod"] == "MachineCertificate"
    assert added["ServerAddress"] == "'<GATEWAY_ID>'"
    ipsec = powershell_command(script, "Set-VpnConnectionIPsecConfiguration")
    for parameter, value in expected.items():
        assert ipsec[parameter] == value and value in WINDOWS_VALUES[parameter], parameter
    assert script.isascii(), "Windows PowerShell 5.1 reads scripts without a BOM as ANSI"


def test_the_windows_script_parses_where_powershell_is_installed(rendered, tmp_path):
    pwsh = shutil.which("pwsh")
    if pwsh is None:
        pytest.skip("PowerShell (pwsh) is not installed")
    script = tmp_path / "windows-ikev2.ps1"
    script.write_text(rendered["remote access"]["client/windows-ikev2.ps1"])
    check = (
        "$errors = $null; [System.Management.Automation.Language.Parser]::ParseFile("
        f"'{script}', [ref]$null, [ref]$errors) | Out-Null; exit $errors.Count"
    )
    run([pwsh, "-NoProfile", "-Command", check])


# WireGuard ----------------------------------------------------------------------------------

WG_KEYS = {
    "Interface": {"Address", "ListenPort", "MTU", "PrivateKey", "DNS"},
    "Peer": {"PublicKey", "PresharedKey", "AllowedIPs", "Endpoint", "PersistentKeepalive"},
}
"""The wg(8) and wg-quick(8) fields the templates use."""


def parse_wg(text: str) -> list[tuple[str, dict[str, str]]]:
    sections: list[tuple[str, dict[str, str]]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if header := re.fullmatch(r"\[(Interface|Peer)\]", line):
            sections.append((header[1], {}))
            continue
        field = re.fullmatch(r"([A-Za-z]+) = (\S(?:.*\S)?)", line)
        assert field and sections, f"line {number}: {raw!r}"
        name, fields = sections[-1]
        assert field[1] in WG_KEYS[name] and field[1] not in fields, f"line {number}: {raw!r}"
        fields[field[1]] = field[2]
    assert [name for name, _ in sections][:1] == ["Interface"]
    assert [name for name, _ in sections].count("Interface") == 1
    return sections


def test_wireguard_link_files_mirror_each_other(rendered):
    files = rendered["WireGuard site link, long-lived data"]
    a = dict(parse_wg(files["wireguard/wg0-a.conf"]))
    b = dict(parse_wg(files["wireguard/wg0-b.conf"]))
    assert a["Interface"]["ListenPort"] == b["Interface"]["ListenPort"] == WIREGUARD["wireguard_port"][0]
    assert a["Interface"]["MTU"] == WIREGUARD["wireguard_mtu"][0]
    assert a["Peer"]["PersistentKeepalive"] == WIREGUARD["wireguard_keepalive"][0]
    assert (
        a["Interface"]["PrivateKey"] == "<PEER_A_PRIVATE_KEY>"
        and a["Peer"]["PublicKey"] == "<PEER_B_PUBLIC_KEY>"
    )
    assert (
        b["Interface"]["PrivateKey"] == "<PEER_B_PRIVATE_KEY>"
        and b["Peer"]["PublicKey"] == "<PEER_A_PUBLIC_KEY>"
    )
    assert a["Peer"]["AllowedIPs"] == "<PEER_B_TUNNEL_IP>/32, <SITE_B_SUBNETS>"
    assert a["Peer"]["Endpoint"] == "<PEER_B_ADDRESS>:51820"
    assert a["Peer"]["PresharedKey"] == b["Peer"]["PresharedKey"] == "<LINK_PRESHARED_KEY>"


def test_wireguard_host_link_routes_only_the_other_host(rendered):
    files = rendered["WireGuard host link"]
    peer = dict(parse_wg(files["wireguard/wg0-a.conf"]))["Peer"]
    assert peer["AllowedIPs"] == "<PEER_B_TUNNEL_IP>/32" and "PresharedKey" not in peer


def test_wireguard_remote_access_gateway_and_client(rendered):
    files = rendered["WireGuard remote access, long-lived data"]
    gateway = dict(parse_wg(files["wireguard/wg0-gateway.conf"]))
    client = dict(parse_wg(files["wireguard/wg0-client.conf"]))
    assert gateway["Peer"]["AllowedIPs"] == "<CLIENT_TUNNEL_IP>/32"
    assert client["Peer"]["AllowedIPs"] == "<INTERNAL_SUBNETS>"
    assert client["Peer"]["Endpoint"] == "<GATEWAY_ADDRESS>:51820"
    assert "ListenPort" not in client["Interface"]
    assert gateway["Peer"]["PresharedKey"] == client["Peer"]["PresharedKey"] == "<CLIENT_PRESHARED_KEY>"


# TLS: Debian's own offline checks --------------------------------------------------------------


def run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"
    return result


def need(program: str) -> str:
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin:/usr/bin")
    if path is None:
        pytest.skip(f"{program} is not installed")
    return path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> dict[str, str]:
    """A throwaway self-signed certificate and key, made for these checks only."""
    openssl = need("openssl")
    folder = tmp_path_factory.mktemp("certificate")
    key, cert = folder / "server.key", folder / "server.crt"
    run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-noenc",
            "-days",
            "2",
            "-subj",
            "/CN=tls.example.test",
            "-addext",
            "subjectAltName=DNS:tls.example.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ]
    )
    bundle = folder / "haproxy.pem"
    bundle.write_text(cert.read_text() + key.read_text())
    return {
        "<TLS_KEY_FILE>": str(key),
        "<TLS_CERT_CHAIN_FILE>": str(cert),
        "<HAPROXY_PEM_FILE>": str(bundle),
        "<SERVER_NAME>": "tls.example.test",
        "<BACKEND_ADDRESS>": "127.0.0.1:8080",
    }


def filled(text: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    assert not PLACEHOLDER.search(text), PLACEHOLDER.findall(text)
    return text


TLS_SCENARIOS = ["TLS web", "TLS API", "TLS 1.3 only, CNSA, web and mail"]


@pytest.mark.parametrize("scenario", TLS_SCENARIOS)
def test_nginx_accepts_the_server_block(rendered, scenario, certificate, tmp_path):
    check_nginx(filled(rendered[scenario]["nginx/site.conf"], certificate), tmp_path)


def check_nginx(site_conf: str, tmp_path: Path) -> None:
    nginx = need("nginx")
    (tmp_path / "site.conf").write_text(site_conf)
    temp = "\n".join(
        f"    {kind}_temp_path {tmp_path}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n    access_log off;\n{temp}\n    include {tmp_path}/site.conf;\n}}\n"
    )
    result = run([nginx, "-t", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")])
    assert "[warn]" not in result.stderr, result.stderr


@pytest.mark.parametrize("scenario", TLS_SCENARIOS)
def test_apache_accepts_the_virtual_host(rendered, scenario, certificate, tmp_path):
    check_apache(filled(rendered[scenario]["apache/site.conf"], certificate), tmp_path)


def check_apache(site_conf: str, tmp_path: Path) -> None:
    apache = need("apache2")
    modules = Path("/usr/lib/apache2/modules")
    if not (modules / "mod_ssl.so").exists():
        pytest.skip("mod_ssl is not installed")
    (tmp_path / "site.conf").write_text(site_conf)
    loads = "\n".join(
        f"LoadModule {name}_module {modules}/mod_{name}.so"
        for name in ("mpm_event", "authz_core", "alias", "headers", "socache_shmcb", "ssl")
    )
    (tmp_path / "httpd.conf").write_text(
        f"ServerRoot {tmp_path}\nDefaultRuntimeDir {tmp_path}\nPidFile {tmp_path}/httpd.pid\n"
        f"ErrorLog {tmp_path}/error.log\nServerName localhost\nListen 80\nListen 443\n{loads}\n"
        f"Include {tmp_path}/site.conf\n"
    )
    env = {
        **os.environ,
        "APACHE_RUN_DIR": str(tmp_path),
        "APACHE_LOCK_DIR": str(tmp_path),
        "APACHE_LOG_DIR": str(tmp_path),
        "APACHE_PID_FILE": str(tmp_path / "httpd.pid"),
        "APACHE_RUN_USER": "www-data",
        "APACHE_RUN_GROUP": "www-data",
    }
    result = run([apache, "-t", "-f", str(tmp_path / "httpd.conf")], env=env)
    assert "Syntax OK" in result.stdout + result.stderr
    assert "warn" not in result.stderr.lower(), result.stderr


@pytest.mark.parametrize("scenario", TLS_SCENARIOS)
def test_haproxy_accepts_the_configuration(rendered, scenario, certificate, tmp_path):
    check_haproxy(filled(rendered[scenario]["haproxy/haproxy.cfg"], certificate), tmp_path)


def check_haproxy(text: str, tmp_path: Path) -> None:
    haproxy = need("haproxy")
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    result = run([haproxy, "-c", "-f", str(config)])
    assert "WARNING" not in result.stdout + result.stderr, result.stdout + result.stderr


@pytest.mark.parametrize("scenario", ["TLS mail", "TLS 1.3 only, CNSA, web and mail"])
def test_postfix_accepts_the_tls_lines_without_a_warning(rendered, scenario, certificate, tmp_path):
    settings = check_postfix(filled(rendered[scenario]["postfix/main.cf"], certificate), tmp_path)
    minimum = min(SCENARIOS[scenario]["settings"]["tls"]["tls_protocols"])
    assert settings["smtpd_tls_protocols"] == settings["smtpd_tls_mandatory_protocols"] == f">={minimum}"
    assert settings["tls_eecdh_auto_curves"] == " ".join(SCENARIOS[scenario]["settings"]["tls"]["tls_groups"])


def check_postfix(main_cf: str, tmp_path: Path) -> dict[str, str]:
    postconf = need("postconf")
    (tmp_path / "main.cf").write_text(main_cf)
    (tmp_path / "master.cf").write_text("smtp inet n - y - - smtpd\n")
    result = run([postconf, "-c", str(tmp_path), "-n"])
    assert result.stderr == "", result.stderr
    return dict(line.split(" = ", 1) for line in result.stdout.splitlines())


@pytest.mark.parametrize("scenario", ["TLS mail", "TLS 1.3 only, CNSA, web and mail"])
def test_dovecot_accepts_the_ssl_settings(rendered, scenario, certificate, tmp_path):
    result = check_dovecot(filled(rendered[scenario]["dovecot/10-ssl.conf"], certificate), tmp_path)
    tls = SCENARIOS[scenario]["settings"]["tls"]
    assert f"ssl_cipher_suites = {':'.join(tls['tls13_ciphersuites'])}" in result.stdout
    assert f"ssl_curve_list = {':'.join(tls['tls_groups'])}" in result.stdout


def check_dovecot(ssl_settings: str, tmp_path: Path) -> subprocess.CompletedProcess:
    doveconf = need("doveconf")
    ssl_conf = tmp_path / "10-ssl.conf"
    ssl_conf.write_text(ssl_settings)
    config = tmp_path / "dovecot.conf"
    config.write_text(f"protocols = imap\nbase_dir = {tmp_path}/run\n!include {ssl_conf}\n")
    result = run([doveconf, "-c", str(config), "-n"])
    assert "ssl = required" in result.stdout
    return result


SHIPPED_CASES = ["public-website", "email", "apis", "sites-and-customer-portal", "high-assurance-two-layers"]


@pytest.mark.django_db
@pytest.mark.parametrize("slug", SHIPPED_CASES)
def test_the_shipped_settings_pass_the_servers_own_checks(slug, certificate, tmp_path):
    """Not test values: the knowledge base's own suites and groups, as a report selects them, go through
    nginx, HAProxy, Apache httpd, Postfix and Dovecot (nginx and HAProxy apply them, the layered case
    with CNSA), and swanctl files parse against strongSwan's keywords."""
    kb = knowledge.current()
    report = reports.issue(kb, kb.profile(slug).answers)
    checked = 0
    for number, (_, context) in enumerate(bundle.part_contexts(report, "https://advisor.example.org/r/")):
        for path, text in configs.render_part(context).items():
            folder = tmp_path / f"{number}-{path.replace('/', '-')}"
            folder.mkdir()
            if path.endswith("nginx/site.conf"):
                check_nginx(filled(text, certificate), folder)
            elif path.endswith("haproxy/haproxy.cfg"):
                check_haproxy(filled(text, certificate), folder)
            elif path.endswith("apache/site.conf"):
                check_apache(filled(text, certificate), folder)
            elif path.endswith("postfix/main.cf"):
                check_postfix(filled(text, certificate), folder)
            elif path.endswith("dovecot/10-ssl.conf"):
                check_dovecot(filled(text, certificate), folder)
            elif path.endswith("swanctl.conf"):
                check_swanctl_keywords(parse_swanctl(text))
            else:
                continue
            checked += 1
    assert checked, slug
