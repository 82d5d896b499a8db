"""The public pages render the knowledge base under a strict security policy."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from advisor.models import UseCaseProfile

pytestmark = pytest.mark.django_db


def test_home_offers_a_start_and_every_use_case(client):
    response = client.get(reverse("advisor:home"))
    assert response.status_code == 200
    page = response.content.decode()
    assert f'action="{reverse("advisor:start")}"' in page
    for profile in UseCaseProfile.objects.all():
        assert profile.name in page
        assert f'value="{profile.slug}"' in page
    assert "Knowledge base version 1" in page


def test_home_sends_a_strict_content_security_policy(client):
    response = client.get(reverse("advisor:home"))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self' 'nonce-" in policy
    assert "unsafe-inline" not in policy
    assert response["X-Frame-Options"] == "DENY"


def test_home_scripts_and_styles_carry_the_nonce(client):
    response = client.get(reverse("advisor:home"))
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    tags = re.findall(r'<script\b[^>]*>|<link rel="stylesheet"[^>]*>', response.content.decode())
    assert len(tags) >= 2
    assert all(f'nonce="{nonce}"' in tag for tag in tags), tags


def test_home_refuses_posts(client):
    assert client.post(reverse("advisor:home")).status_code == 405


def test_staff_get_a_link_to_the_admin(staff_client):
    assert reverse("admin:index") in staff_client.get(reverse("advisor:home")).content.decode()
