"""The deployment bundle: what it holds, that it comes from the snapshot, and that it holds no secret."""

from __future__ import annotations

import io
import json
import re
import zipfile
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from advisor import knowledge, reports
from advisor.models import Guidance, Report

pytestmark = pytest.mark.django_db

KEY_MATERIAL = [
    re.compile(r"-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----"),
    re.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{43}=(?![A-Za-z0-9+/=])"),
    re.compile(r"\b0x[0-9a-fA-F]{32,}\b"),
]
"""PEM blocks, WireGuard-style base64 keys and long hex strings: none may appear in a bundle."""


def issue(slug: str, **answers) -> Report:
    kb = knowledge.current()
    return reports.issue(kb, {**kb.profile(slug).answers, **answers}, title="Bundle test")


def download(client, report: Report) -> dict[str, str]:
    response = client.get(reverse("advisor:report_bundle", args=[report.id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    return unpack(response.content)


def unpack(content: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        root = names[0].split("/", 1)[0]
        assert all(name.startswith(f"{root}/") for name in names), "one folder holds everything"
        return {
            name.split("/", 1)[1]: archive.read(name).decode(errors="replace")
            if not name.endswith(".pdf")
            else ""
            for name in names
        }


def configs_of(files: dict[str, str]) -> dict[str, str]:
    return {path: text for path, text in files.items() if path.startswith("configs/")}


def test_the_bundle_holds_the_report_the_record_and_a_folder_per_part(client):
    files = download(client, issue("sites-and-customer-portal"))
    assert {"report.pdf", "decision-record.md", "decision.json", "decision.schema.json", "README.md"} <= set(
        files
    )
    assert json.loads(files["decision.schema.json"])["title"] == "DecisionRecord"
    folders = {path.split("/")[1] for path in configs_of(files)}
    assert folders == {"1-link-between-sites", "2-public-service"}
    for folder in folders:
        assert f"configs/{folder}/README.md" in files
    assert "configs/1-link-between-sites/strongswan/swanctl.conf" in files
    assert any(path.startswith("configs/2-public-service/nginx/") for path in files)
    assert "configs/1-link-between-sites/" in files["README.md"]


@pytest.mark.parametrize(
    "slug",
    [
        "site-to-site",
        "remote-access-managed",
        "legacy-app",
        "integrity-only-link",
        "cloud-hosts-no-fips",
        "email",
    ],
)
def test_every_configuration_file_is_stamped_and_holds_no_secret(client, slug):
    report = issue(slug)
    files = configs_of(download(client, report))
    assert files, slug
    permalink = "http://testserver" + reverse("advisor:report", args=[report.id])
    for path, text in files.items():
        head = "\n".join(text.splitlines()[:8])
        assert "Protocol Advisor" in head and permalink in head, path
        assert f"knowledge base version {report.knowledge_base_version}" in head.lower(), path
        for pattern in KEY_MATERIAL:
            assert not pattern.search(text), f"{path} looks like it holds key material"


def test_every_placeholder_is_explained_in_its_parts_readme(client):
    for slug in ("site-to-site", "remote-access-managed", "cloud-hosts-no-fips", "public-website"):
        files = configs_of(download(client, issue(slug)))
        for folder in {path.rsplit("/", 1)[0].split("/")[1] for path in files}:
            readme = files[f"configs/{folder}/README.md"]
            for path, text in files.items():
                if path.startswith(f"configs/{folder}/") and not path.endswith("README.md"):
                    for placeholder in set(re.findall(r"<[A-Z][A-Z0-9_]+>", text)):
                        assert placeholder in readme, f"{slug}: {placeholder} of {path} is not explained"


def test_an_integrity_only_design_never_gets_an_encryption_algorithm(client):
    files = download(client, issue("integrity-only-link"))
    swanctl = next(text for path, text in files.items() if path.endswith("swanctl.conf"))
    proposals = re.findall(r"esp_proposals\s*=\s*(\S+)", swanctl)
    assert proposals, swanctl
    for line in proposals:
        assert line.startswith("null"), line
        assert not re.search(r"aes|chacha|3des|camellia", line), line


def test_a_bundle_never_changes_when_the_knowledge_base_does(client):
    report = issue("site-to-site")
    before = download(client, report)
    Guidance.objects.filter(kind=Guidance.Kind.SETTING).update(text="changed")
    knowledge.current()
    assert download(client, report) == before


def test_the_command_line_writes_the_same_kind_of_bundle(tmp_path):
    out = tmp_path / "bundle.zip"
    stderr = StringIO()
    call_command(
        "recommend", "--profile", "site-to-site", "--bundle", str(out), stdout=StringIO(), stderr=stderr
    )
    assert f"Wrote {out}" in stderr.getvalue()
    files = unpack(out.read_bytes())
    assert "configs/1-link-between-sites/strongswan/swanctl.conf" in files
    assert not Report.objects.exists()


def test_the_api_serves_the_bundle_of_a_stored_report(client):
    report = issue("public-website")
    response = client.get(f"/api/v1/reports/{report.id}/bundle")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "decision.json" in unpack(response.content)
    assert client.get("/api/v1/reports/00000000-0000-0000-0000-000000000000/bundle").status_code == 404
    document = client.get("/api/v1/openapi.json").json()
    assert (
        "application/zip"
        in document["paths"]["/api/v1/reports/{report_id}/bundle"]["get"]["responses"]["200"]["content"]
    )


def test_the_report_page_offers_the_bundle(client):
    report = issue("site-to-site")
    page = client.get(reverse("advisor:report", args=[report.id])).content.decode()
    assert reverse("advisor:report_bundle", args=[report.id]) in page


def test_swanctl_proposals_are_the_ones_the_report_selected(client):
    report = issue("site-to-site")
    files = download(client, report)
    settings = report.result["parts"][0]["settings"]["ipsec-esp-tunnel"]
    swanctl = files["configs/1-link-between-sites/strongswan/swanctl.conf"]
    ike = re.search(r"^\s*proposals\s*=\s*(\S+)", swanctl, re.M).group(1)
    esp = re.search(r"esp_proposals\s*=\s*(\S+)", swanctl).group(1)
    assert ike.split(",") == settings["strongswan_ike"]["values"]
    assert esp.split(",") == settings["strongswan_esp"]["values"]


def test_a_path_that_passes_only_tcp_443_gets_no_ipsec_configuration(client):
    files = download(client, issue("remote-access-restrictive-firewall"))
    assert not any("swanctl" in path or "ipsec.conf" in path or path.endswith(".ps1") for path in files)
    assert "configs/1-remote-access-for-staff/README.md" in files
