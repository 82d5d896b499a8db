"""What the shipped knowledge base is expected to contain, shared by the content and engine tests."""

SHIPPED_PROFILES = [
    "public-website",
    "email",
    "apis",
    "b2b-file-transfer",
    "site-to-site",
    "remote-access-managed",
    "contractors-unmanaged",
    "legacy-app",
    "voice-between-offices",
    "integrity-only-link",
    "high-assurance-two-layers",
    "remote-access-restrictive-firewall",
    "cloud-hosts-no-fips",
]
