from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from advisor import fixture_io
from advisor.models import KnowledgeBaseVersion


class Command(BaseCommand):
    help = (
        "Load the shipped knowledge base into an empty database. An existing knowledge base is left "
        "as it is, so admin edits survive; --replace discards them and loads the fixture."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--fixture", type=Path, default=fixture_io.SHIPPED_FIXTURE)
        parser.add_argument("--replace", action="store_true", help="Delete the current knowledge base first.")

    def handle(self, *args, fixture: Path, replace: bool, **options) -> None:
        if not fixture.is_file():
            raise CommandError(f"No fixture at {fixture}.")
        if not replace and not fixture_io.is_empty():
            latest = KnowledgeBaseVersion.objects.first()
            where = (
                f"version {latest.number} of {latest.created_at:%Y-%m-%d %H:%M} UTC" if latest else "present"
            )
            self.stdout.write(
                f"Knowledge base already present ({where}); nothing loaded, so admin edits are kept. "
                "Use --replace to discard them and load the shipped fixture."
            )
            return
        version = fixture_io.load(fixture, replace=replace)
        self.stdout.write(self.style.SUCCESS(f"Knowledge base version {version.number}: {version.message}"))
