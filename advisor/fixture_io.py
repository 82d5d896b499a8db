"""Loading and exporting the knowledge base as a fixture with natural keys.

The shipped fixture is exactly what `export_knowledge_base` writes, so a
maintainer can edit in the admin, export, and commit a readable diff.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core import serializers
from django.core.management import call_command
from django.db import transaction

from advisor import versioning
from advisor.models import KNOWLEDGE_BASE_MODELS, KnowledgeBaseVersion

SHIPPED_FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "knowledge_base.json"


def is_empty() -> bool:
    return not any(model.objects.exists() for model in KNOWLEDGE_BASE_MODELS)


def counts() -> dict[str, int]:
    return {str(model._meta.verbose_name_plural): model.objects.count() for model in KNOWLEDGE_BASE_MODELS}


def export_json() -> str:
    """Serialise every knowledge-base row in dependency order, without database ids."""
    objects = (obj for model in KNOWLEDGE_BASE_MODELS for obj in model.objects.order_by("pk"))
    text = serializers.serialize(
        "json", objects, indent=2, use_natural_foreign_keys=True, use_natural_primary_keys=True
    )
    return text + "\n"


@transaction.atomic
def load(fixture: Path = SHIPPED_FIXTURE, *, replace: bool = False) -> KnowledgeBaseVersion:
    """Load `fixture` into an empty knowledge base (or replace it), recorded as one version."""
    with versioning.recorded_elsewhere():
        if replace:
            for model in reversed(KNOWLEDGE_BASE_MODELS):
                model.objects.all().delete()
        call_command("loaddata", str(fixture), verbosity=0)
    summary = ", ".join(f"{number} {name}" for name, number in counts().items())
    verb = "Replaced the knowledge base with" if replace else "Loaded"
    return KnowledgeBaseVersion.record(
        KnowledgeBaseVersion.Action.LOADED,
        object_type="fixture",
        object_repr=fixture.name,
        message=f"{verb} {fixture.name}: {summary}.",
    )
