from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from advisor import fixture_io


class Command(BaseCommand):
    help = "Write the knowledge base as a fixture (natural keys, no database ids) to a file or stdout."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", "-o", type=Path, help="File to write; stdout when omitted.")

    def handle(self, *args, output: Path | None, **options) -> None:
        text = fixture_io.export_json()
        if output is None:
            self.stdout.write(text, ending="")
            return
        output.write_text(text, encoding="utf-8")
        self.stdout.write(self.style.SUCCESS(f"Wrote {output}."))
