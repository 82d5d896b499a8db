"""What the shipped knowledge base is expected to contain and recommend, pinned here by the experts.

The designs below are the experts' answers for each shipped use-case profile, written down in the
tests rather than read back from the editable rows: an admin edit that changes one fails the suite.
"""

SHIPPED_DESIGNS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "public-website": [("public-service", ("tls",))],
    "email": [("public-service", ("tls",))],
    "apis": [("app-service", ("tls",))],
    "b2b-file-transfer": [("app-service", ("tls",))],
    "site-to-site": [("site-link", ("ipsec-esp-tunnel",))],
    "remote-access-managed": [("remote-access", ("ipsec-esp-tunnel",))],
    "contractors-unmanaged": [("third-party-access", ("tls-vpn-portal",))],
    "legacy-app": [("host-link", ("ipsec-esp-transport",))],
    "voice-between-offices": [("site-link", ("ipsec-esp-tunnel",))],
    "integrity-only-link": [("host-link", ("ipsec-esp-transport",))],
    "high-assurance-two-layers": [("site-link", ("ipsec-esp-tunnel", "tls"))],
    "remote-access-restrictive-firewall": [("remote-access", ("tls-vpn-tunnel",))],
    "cloud-hosts-no-fips": [("host-link", ("wireguard",))],
    "sites-and-customer-portal": [("site-link", ("ipsec-esp-tunnel",)), ("public-service", ("tls",))],
    "staff-and-contractors": [
        ("remote-access", ("ipsec-esp-tunnel",)),
        ("third-party-access", ("tls-vpn-portal",)),
    ],
    "iot-telemetry": [("app-service", ("tls",))],
}

CLOSE_BY_DESIGN: dict[tuple[str, str], str] = {
    ("legacy-app", "host-link"): "Between two hosts both ESP modes work; transport mode is the usual choice "
    "(RFC 4301 section 4.1 keeps tunnel mode for gateways) and saves the outer header, a small edge.",
    ("integrity-only-link", "host-link"): "As for legacy-app: ESP-NULL in transport or tunnel mode between "
    "two hosts both meet the need; transport is the usual host-to-host choice.",
}
"""(profile, flow) parts whose lead is under the close-call line on purpose, with the reason."""

SHIPPED_PROFILES = list(SHIPPED_DESIGNS)
