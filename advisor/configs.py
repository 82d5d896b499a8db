"""Configuration files for one part of a design, rendered from the Django templates in templates/bundle/.

A part's protocols, its flow and the answers pick the files (the FILES table); the
knowledge base's settings for each protocol supply every algorithm, version and
port, so the templates only arrange them in each program's own syntax. Keys,
certificates and addresses are placeholders written `<UPPER_CASE_NAME>`: nothing
secret is made on the server, and each part's README names every placeholder its
files use together with the command that produces the value.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from django.template.loader import render_to_string

PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)>")

LINK, REMOTE = "link", "remote"
REMOTE_FLOWS = frozenset({"remote-access", "third-party-access"})
SUBNET_FLOWS = frozenset({"site-link", None})
"""Flows whose link joins networks; between hosts the traffic selectors are the hosts themselves."""


class File(NamedTuple):
    """One file of a part: its path in the part's folder, its template, a line for the README, and for
    files written once per peer (WireGuard's two ends) the peer it is for."""

    path: str
    template: str
    about: str
    side: str = "A"


STRONGSWAN_LINK = File(
    "strongswan/swanctl.conf",
    "strongswan/link.conf",
    "strongSwan (swanctl) configuration for peer A; on peer B swap every A and B value.",
)
WEB_FILES = (
    File("nginx/site.conf", "nginx/site.conf", "nginx server block with the TLS settings."),
    File(
        "apache/site.conf", "apache/site.conf", "Apache httpd (mod_ssl) virtual host with the TLS settings."
    ),
    File(
        "haproxy/haproxy.cfg",
        "haproxy/haproxy.cfg",
        "HAProxy configuration terminating TLS in front of the service.",
    ),
)
MAIL_FILES = (
    File("postfix/main.cf", "postfix/main.cf", "The TLS lines for Postfix's main.cf (SMTP server)."),
    File("dovecot/10-ssl.conf", "dovecot/10-ssl.conf", "Dovecot's TLS settings for IMAP and POP3."),
)
WINDOWS_CLIENT = File(
    "client/windows-ikev2.ps1",
    "client/windows-ikev2.ps1",
    "PowerShell script that sets up the built-in Windows IKEv2 client with the gateway's algorithms.",
)

FILES: dict[tuple[str, str], tuple[File, ...]] = {
    ("ipsec-esp-tunnel", LINK): (
        STRONGSWAN_LINK,
        File(
            "libreswan/ipsec.conf",
            "libreswan/link.conf",
            "The same tunnel for libreswan, as written for peer A.",
        ),
    ),
    ("ipsec-esp-tunnel", REMOTE): (
        File(
            "strongswan/swanctl.conf",
            "strongswan/remote-access.conf",
            "strongSwan (swanctl) gateway for remote clients, with a virtual address pool.",
        ),
        WINDOWS_CLIENT,
    ),
    ("ipsec-esp-transport", LINK): (STRONGSWAN_LINK,),
    ("ipsec-esp-transport", REMOTE): (STRONGSWAN_LINK,),
    ("ipsec-ah", LINK): (STRONGSWAN_LINK,),
    ("ipsec-ah", REMOTE): (STRONGSWAN_LINK,),
    ("wireguard", LINK): (
        File("wireguard/wg0-a.conf", "wireguard/link.conf", "wg-quick configuration for peer A.", "A"),
        File("wireguard/wg0-b.conf", "wireguard/link.conf", "wg-quick configuration for peer B.", "B"),
    ),
    ("wireguard", REMOTE): (
        File(
            "wireguard/wg0-gateway.conf", "wireguard/gateway.conf", "wg-quick configuration for the gateway."
        ),
        File("wireguard/wg0-client.conf", "wireguard/client.conf", "wg-quick configuration for one client."),
    ),
    ("tls", LINK): WEB_FILES,
    ("tls", REMOTE): WEB_FILES,
}
"""Which files each protocol needs, for a link (site or host) or for remote clients."""

README_SECTIONS = {
    "ipsec-esp-tunnel": "ipsec-esp-tunnel.md",
    "ipsec-esp-transport": "ipsec-esp-transport.md",
    "ipsec-ah": "ipsec-ah.md",
    "wireguard": "wireguard.md",
    "tls": "tls.md",
    "tls-vpn-portal": "tls-vpn.md",
    "tls-vpn-tunnel": "tls-vpn.md",
}

REQUIRED_SETTINGS = {
    "ipsec-esp-tunnel": ("strongswan_ike", "strongswan_esp", "libreswan_ike", "libreswan_esp"),
    "ipsec-esp-transport": ("strongswan_ike", "strongswan_esp"),
    "ipsec-ah": ("strongswan_ah",),
    "wireguard": ("wireguard_port", "wireguard_mtu", "wireguard_keepalive"),
    "tls": ("tls_protocols", "tls13_ciphersuites", "tls_groups"),
}
"""Settings a protocol's files cannot do without: a missing one is an error, never a silent gap."""

# strongSwan keywords the built-in Windows client can offer, as Set-VpnConnectionIPsecConfiguration
# parameters. A proposal with any other keyword (ML-KEM, Curve25519, ChaCha20) is beyond it.
WINDOWS_IKE = {
    "aes128": {"EncryptionMethod": "AES128"},
    "aes256": {"EncryptionMethod": "AES256"},
    "aes128gcm16": {"EncryptionMethod": "GCMAES128"},
    "aes256gcm16": {"EncryptionMethod": "GCMAES256"},
    "sha256": {"IntegrityCheckMethod": "SHA256"},
    "sha384": {"IntegrityCheckMethod": "SHA384"},
    "prfsha256": {"IntegrityCheckMethod": "SHA256"},
    "prfsha384": {"IntegrityCheckMethod": "SHA384"},
    "modp2048": {"DHGroup": "Group14"},
    "ecp256": {"DHGroup": "ECP256"},
    "ecp384": {"DHGroup": "ECP384"},
}
WINDOWS_ESP = {
    "aes128gcm16": {"CipherTransformConstants": "GCMAES128", "AuthenticationTransformConstants": "GCMAES128"},
    "aes256gcm16": {"CipherTransformConstants": "GCMAES256", "AuthenticationTransformConstants": "GCMAES256"},
    "aes128": {"CipherTransformConstants": "AES128"},
    "aes256": {"CipherTransformConstants": "AES256"},
    "null": {"CipherTransformConstants": "None"},
    "sha256": {"AuthenticationTransformConstants": "SHA256128"},
    "modp2048": {"PfsGroup": "PFS2048"},
    "ecp256": {"PfsGroup": "ECP256"},
    "ecp384": {"PfsGroup": "ECP384"},
    "noesn": {},
}

PLACEHOLDERS: dict[str, tuple[str, str]] = {
    "PEER_A_ADDRESS": (
        "Public IP address or DNS name of peer A.",
        "ip -brief address show   # on peer A",
    ),
    "PEER_B_ADDRESS": ("Public IP address or DNS name of peer B.", "ip -brief address show   # on peer B"),
    "SITE_A_SUBNETS": (
        "Networks behind peer A, as CIDR prefixes separated by commas (10.1.0.0/16,10.2.0.0/16).",
        "ip -4 route show   # on peer A: its internal networks",
    ),
    "SITE_B_SUBNETS": (
        "Networks behind peer B, as CIDR prefixes separated by commas.",
        "ip -4 route show   # on peer B: its internal networks",
    ),
    "PEER_A_ID": (
        "DNS name in peer A's certificate (subjectAltName); it is also peer A's IKE identity.",
        "openssl x509 -in peer-a.crt -noout -ext subjectAltName",
    ),
    "PEER_B_ID": (
        "DNS name in peer B's certificate (subjectAltName).",
        "openssl x509 -in peer-b.crt -noout -ext subjectAltName",
    ),
    "PEER_A_CERT_FILE": (
        "File name of peer A's certificate in /etc/swanctl/x509/ (its key is in /etc/swanctl/private/).",
        "pki --issue --cacert ca.crt --cakey ca.key --type pkcs10 --in peer-a.csr --san <PEER_A_ID> "
        "--flag serverAuth --outform pem > /etc/swanctl/x509/peer-a.crt",
    ),
    "PEER_A_CERT_NICKNAME": (
        "Nickname of peer A's certificate in libreswan's NSS database.",
        "openssl pkcs12 -export -inkey peer-a.key -in peer-a.crt -certfile ca.crt -name peer-a -out peer-a.p12 "
        "&& ipsec import peer-a.p12   # the nickname is the -name value",
    ),
    "GATEWAY_ID": (
        "DNS name of the VPN gateway: in public DNS, in its certificate's subjectAltName, and what clients dial.",
        "openssl x509 -in gateway.crt -noout -ext subjectAltName",
    ),
    "GATEWAY_CERT_FILE": (
        "File name of the gateway's certificate in /etc/swanctl/x509/ (its key is in /etc/swanctl/private/).",
        "pki --issue --cacert ca.crt --cakey ca.key --type pkcs10 --in gateway.csr --san <GATEWAY_ID> "
        "--flag serverAuth --flag ikeIntermediate --outform pem > /etc/swanctl/x509/gateway.crt",
    ),
    "CA_CERT_FILE": (
        "File name of the CA certificate that issues the clients' certificates, in /etc/swanctl/x509ca/.",
        'pki --self --ca --in ca.key --dn "CN=VPN CA" --outform pem > /etc/swanctl/x509ca/ca.crt',
    ),
    "VPN_CLIENT_POOL": (
        "Addresses handed to VPN clients, as one CIDR prefix used nowhere else (10.8.0.0/24).",
        "ip -4 route show   # on the gateway: pick a prefix that is not listed",
    ),
    "INTERNAL_SUBNETS": (
        "Internal networks the clients may reach, as CIDR prefixes separated by commas.",
        "ip -4 route show   # on the gateway",
    ),
    "INTERNAL_DNS_SERVERS": (
        "Internal DNS server addresses for the clients, separated by commas.",
        "resolvectl dns   # on a machine inside the network",
    ),
    "GATEWAY_ADDRESS": (
        "Public IP address or DNS name of the WireGuard gateway.",
        "ip -brief address show   # on the gateway",
    ),
    "GATEWAY_TUNNEL_ADDRESS": (
        "The gateway's address inside the tunnel, with the clients' prefix length (10.8.0.1/24).",
        "ip -4 route show   # on the gateway: pick a prefix that is not listed",
    ),
    "GATEWAY_PRIVATE_KEY": (
        "The gateway's WireGuard private key: the content of gateway.key, made on the gateway.",
        "umask 077; wg genkey > gateway.key",
    ),
    "GATEWAY_PUBLIC_KEY": ("The gateway's WireGuard public key.", "wg pubkey < gateway.key"),
    "CLIENT_TUNNEL_IP": (
        "This client's address inside the tunnel, from the gateway's prefix (10.8.0.2).",
        "wg show wg0 allowed-ips   # on the gateway: the addresses already taken",
    ),
    "CLIENT_PRIVATE_KEY": (
        "The client's WireGuard private key: the content of client.key, made on the client.",
        "umask 077; wg genkey > client.key",
    ),
    "CLIENT_PUBLIC_KEY": ("The client's WireGuard public key.", "wg pubkey < client.key"),
    "CLIENT_PRESHARED_KEY": (
        "A symmetric key only the gateway and this client hold, mixed into the handshake against quantum attacks.",
        "umask 077; wg genpsk > client.psk",
    ),
    "PEER_A_TUNNEL_IP": (
        "Peer A's address inside the tunnel (10.99.0.1), in a range used nowhere else.",
        "ip -brief address show   # on both peers: pick an unused range",
    ),
    "PEER_B_TUNNEL_IP": ("Peer B's address inside the tunnel (10.99.0.2).", "ip -brief address show"),
    "PEER_A_PRIVATE_KEY": (
        "Peer A's WireGuard private key: the content of peer-a.key, made on peer A.",
        "umask 077; wg genkey > peer-a.key",
    ),
    "PEER_B_PRIVATE_KEY": (
        "Peer B's WireGuard private key: the content of peer-b.key, made on peer B.",
        "umask 077; wg genkey > peer-b.key",
    ),
    "PEER_A_PUBLIC_KEY": ("Peer A's WireGuard public key.", "wg pubkey < peer-a.key"),
    "PEER_B_PUBLIC_KEY": ("Peer B's WireGuard public key.", "wg pubkey < peer-b.key"),
    "LINK_PRESHARED_KEY": (
        "A symmetric key only the two peers hold, mixed into the handshake against quantum attacks.",
        "umask 077; wg genpsk > link.psk",
    ),
    "SERVER_NAME": (
        "DNS name clients use for this service; the certificate must name it.",
        "hostname --fqdn",
    ),
    "TLS_KEY_FILE": (
        "Path of the certificate's private key (PEM), readable by root only.",
        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -noenc -keyout server.key "
        '-out server.csr -subj "/CN=<SERVER_NAME>" -addext "subjectAltName=DNS:<SERVER_NAME>"',
    ),
    "TLS_CERT_CHAIN_FILE": (
        "Path of the server certificate followed by its intermediate CA certificates (PEM).",
        "certbot certonly --webroot -w /var/www/html -d <SERVER_NAME>   # writes fullchain.pem; "
        "or send server.csr to your CA",
    ),
    "HAPROXY_PEM_FILE": (
        "Path of one PEM file holding the certificate chain followed by its private key.",
        "cat fullchain.pem server.key > /etc/haproxy/certs/site.pem && chmod 600 /etc/haproxy/certs/site.pem",
    ),
    "BACKEND_ADDRESS": (
        "Address and port of the application behind HAProxy (127.0.0.1:8080).",
        "ss -ltnp   # on the application server",
    ),
    "MAIL_SERVER_NAME": (
        "DNS name of the mail server (its MX or submission host); the certificate must name it.",
        "dig +short MX example.org   # with your own domain",
    ),
}
"""Every placeholder the templates may use: what it stands for and the command that produces its value."""


def render_part(context: dict) -> dict[str, str]:
    """Every file of one part, by its path in the part's folder, README.md first.

    A part with two layers keeps each layer's files in an outer/ or inner/ folder,
    since both layers may use the same program (two independent IPsec layers).
    """
    stamp = {key: " ".join(str(value).split()) for key, value in context["stamp"].items()}
    context = {**context, "stamp": stamp}
    part = context["part"]
    flow = part["flow"]
    answers = frozenset(context["answers"])
    layered = len(part["layers"]) > 1
    files: dict[str, str] = {}
    sections = []
    for layer in part["layers"]:
        slug = layer["protocol"]["slug"]
        settings = context["settings"].get(slug, {})
        missing = [key for key in REQUIRED_SETTINGS.get(slug, ()) if not settings.get(key)]
        if missing:
            raise ValueError(f"The settings for {slug} lack {', '.join(missing)}")
        section = {
            **context,
            **_derived(slug, flow, answers, settings),
            "layer": layer,
            "s": settings,
            "readme": f"bundle/readme/{README_SECTIONS[slug]}" if slug in README_SECTIONS else "",
        }
        chosen = _chosen_files(slug, section)
        prefix = f"{layer['role']}/" if layered else ""
        for file in chosen:
            sides = {"me": file.side, "other": "B" if file.side == "A" else "A"}
            text = render_to_string(f"bundle/{file.template}", {**section, **sides})
            files[prefix + file.path] = _stamped(prefix + file.path, text, stamp)
        sections.append({**section, "files": [(prefix + file.path, file.about) for file in chosen]})

    # The title is the user's own text: in Markdown it must not open an HTML tag or comment.
    title = stamp["title"].replace("&", "&amp;").replace("<", "&lt;")
    readme_context = {
        **context,
        "title": title,
        "sections": sections,
        "layered": layered,
        "has_files": bool(files),
        "placeholders": [],
    }
    draft = render_to_string("bundle/README.md", readme_context)
    readme_context["placeholders"] = [
        (name, *PLACEHOLDERS[name]) for name in _placeholders([*files.values(), draft])
    ]
    readme = _stamped("README.md", render_to_string("bundle/README.md", readme_context), stamp)
    return {"README.md": readme, **files}


def _derived(slug: str, flow: str | None, answers: frozenset[str], settings: dict) -> dict:
    """Values the templates need that follow from the flow and the answers rather than from the settings."""
    transport = slug == "ipsec-esp-transport" or (slug == "ipsec-ah" and flow not in SUBNET_FLOWS)
    derived: dict[str, Any] = {
        "flow": flow,
        "link": flow not in REMOTE_FLOWS,
        "subnets": flow in SUBNET_FLOWS,
        "nat": "path:nat" in answers,
        "only_443": "path:only-443" in answers,
        "integrity_only": "protection:integrity-only" in answers,
        "quantum_psk": bool(answers & {"data-lifetime:long", "compliance:cnsa"}),
        "web": flow == "public-service" or "traffic:web" in answers,
        "email": "traffic:email" in answers,
        "http": _serves_http(answers),
        "ah": slug == "ipsec-ah",
        "mode": "transport" if transport else "tunnel",
        "conn": flow or "link",
    }
    if derived["integrity_only"] and slug in ("ipsec-esp-tunnel", "ipsec-esp-transport"):
        _refuse_encryption(slug, settings)
    if slug == "ipsec-esp-tunnel" and not derived["link"]:
        derived["windows"] = _windows(settings)
    if "tls_protocols" in settings:
        derived |= _tls(settings)
    return derived


def _serves_http(answers: frozenset[str]) -> bool:
    """Whether a TLS part needs web-server files: any traffic but mail and MQTT telemetry, or none named."""
    traffic = {answer for answer in answers if answer.startswith("traffic:")}
    return not traffic or bool(traffic - {"traffic:email", "traffic:iot-telemetry"})


def _chosen_files(slug: str, section: dict) -> tuple[File, ...]:
    """The FILES entry, less what the answers rule out: AH never crosses NAT, mail alone needs no web server,
    and mail needs its own servers."""
    chosen = FILES.get((slug, LINK if section["link"] else REMOTE), ())
    if slug == "tls" and not section["http"]:
        chosen = ()
    if slug == "ipsec-ah" and section["nat"]:
        return ()
    if slug == "ipsec-esp-tunnel" and not section["link"] and section["windows"] is None:
        chosen = tuple(file for file in chosen if file is not WINDOWS_CLIENT)
    if slug == "tls" and section["email"]:
        chosen += MAIL_FILES
    return chosen


def _refuse_encryption(slug: str, settings: dict) -> None:
    """Integrity-only ESP must stay readable on the path: every proposal starts with the NULL cipher."""
    for key in ("strongswan_esp", "libreswan_esp"):
        for proposal in settings.get(key, ()):
            if proposal.split("-")[0] != "null":
                raise ValueError(f"{slug} is integrity-only, yet its {key} proposal {proposal!r} encrypts")


def _windows(settings: dict) -> dict | None:
    """The first IKE and ESP proposals the built-in Windows client can offer, or None if it can offer none."""
    ike = _first_offer(
        settings["strongswan_ike"], WINDOWS_IKE, ("EncryptionMethod", "IntegrityCheckMethod", "DHGroup")
    )
    esp = _first_offer(
        settings["strongswan_esp"],
        WINDOWS_ESP,
        ("CipherTransformConstants", "AuthenticationTransformConstants"),
        {"PfsGroup": "None"},
    )
    if ike is None or esp is None:
        return None
    return {"ike": ike[0], "esp": esp[0], "parameters": {**ike[1], **esp[1]}}


def _first_offer(
    proposals: list[str], table: dict, needed: tuple[str, ...], defaults: dict | None = None
) -> tuple[str, dict[str, str]] | None:
    """The first proposal whose every keyword the table knows, with the cmdlet parameters it sets.

    Within a proposal the first algorithm of each kind wins, as Windows offers one of each.
    """
    for proposal in proposals:
        keywords = proposal.split("-")
        if not all(keyword in table for keyword in keywords):
            continue
        parameters: dict[str, str] = {}
        for keyword in keywords:
            for name, value in table[keyword].items():
                parameters.setdefault(name, value)
        if all(name in parameters for name in needed):
            return proposal, {**(defaults or {}), **parameters}
    return None


def _tls(settings: dict) -> dict:
    """The protocol range in the forms the servers take: a list, its ends, and Apache's +/- syntax."""
    versions = sorted(settings["tls_protocols"], key=_tls_version)
    if _tls_version(versions[0]) < (1, 3) and not settings.get("tls12_ciphers"):
        raise ValueError("The TLS settings allow TLS 1.2 but give no tls12_ciphers")
    return {
        "tls_versions": versions,
        "tls_min": versions[0],
        "tls_max": versions[-1],
        "tls12": _tls_version(versions[0]) < (1, 3),
        "apache_protocols": " ".join(["-all", *(f"+{version}" for version in versions)]),
        "hybrid_groups": [*settings.get("tls_hybrid_groups", ()), *settings["tls_groups"]],
    }


def _tls_version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.removeprefix("TLSv").split("."))


def _placeholders(texts: list[str]) -> list[str]:
    """Placeholder names in order of first use, with those the explanations of others mention."""
    names = list(dict.fromkeys(name for text in texts for name in PLACEHOLDER.findall(text)))
    for name in list(names):
        names += [found for found in PLACEHOLDER.findall(" ".join(PLACEHOLDERS[name])) if found not in names]
    return names


def _stamped(path: str, text: str, stamp: dict) -> str:
    """The file's text under a stamp in its own comment syntax, so a copied file still says where it came from."""
    lines = [
        f"{stamp['product']}, knowledge base version {stamp['knowledge_base_version']}, {stamp['date']}",
        f"Design: {stamp['title']}",
        f"Report: {stamp['permalink']}",
    ]
    if path.endswith(".md"):
        head = "<!--\n" + "\n".join(line.replace("--", "- -") for line in lines) + "\n-->\n"
    else:
        head = "".join(f"# {line}\n" for line in lines)
    return head + "\n" + _tidy(text)


def _tidy(text: str) -> str:
    """Template output without trailing spaces or runs of blank lines, ending in one newline."""
    kept: list[str] = []
    for line in (line.rstrip() for line in text.splitlines()):
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip("\n") + "\n"
