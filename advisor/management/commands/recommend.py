from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from advisor import bundle, engine, knowledge, pdf, reports
from advisor.models import ReportPDF

NOT_STORED = "(not stored)"
"""The permalink of a report the command line issues without saving it."""


class Command(BaseCommand):
    help = (
        "Recommend how to protect data in transit for a set of answers (a JSON file of "
        '{"question": ["option", ...]}, optionally under an "answers" key) or a use-case profile.'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--answers", type=Path, metavar="FILE.json", help="Answers to recommend for.")
        source.add_argument("--profile", metavar="SLUG", help="A use-case profile's preset answers.")
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument(
            "--pdf",
            dest="pdf_path",
            type=Path,
            metavar="FILE.pdf",
            help="Also write the report as PDF, as the site issues it.",
        )
        parser.add_argument("--paper", choices=ReportPDF.Paper.values, default=ReportPDF.Paper.A4)
        parser.add_argument(
            "--bundle",
            dest="bundle_path",
            type=Path,
            metavar="OUT.zip",
            help="Also write the deployment bundle: PDF, decision record and configuration starting points.",
        )

    def handle(
        self,
        *args,
        answers: Path | None,
        profile: str | None,
        format: str,
        pdf_path: Path | None,
        paper: str,
        bundle_path: Path | None = None,
        **options,
    ) -> None:
        kb = knowledge.current()
        if profile:
            chosen = self.profile_answers(kb, profile)
        elif answers is not None:
            chosen = self.file_answers(answers)
        else:
            raise CommandError("Give the answers as a file or name a profile (--profile).")
        errors = engine.validate(kb, chosen)
        if errors:
            lines = "\n".join(f"  {question}: {message}" for question, message in errors.items())
            raise CommandError(f"The answers are not valid:\n{lines}")
        result = engine.recommend(kb, chosen)
        data = engine.as_dict(kb, result)
        if format == "json":
            self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(summary(data))
        if pdf_path or bundle_path:
            report = reports.issue(kb, chosen, save=False)
            # Unsaved, so auto_now_add has not stamped it: the cover and file date read today.
            report.created_at = timezone.now()
            content = pdf.render(report, paper, permalink=NOT_STORED)
            if pdf_path:
                self.write(pdf_path, content, f"{ReportPDF.Paper(paper).label}")
            if bundle_path:
                self.write(bundle_path, bundle.archive(report, NOT_STORED, content), "bundle")

    def write(self, path: Path, content: bytes, what: str) -> None:
        """Stdout keeps the text or JSON clean for pipes; the confirmation goes to stderr."""
        try:
            path.write_bytes(content)
        except OSError as error:
            raise CommandError(f"Cannot write {path}: {error.strerror}.") from error
        self.stderr.write(f"Wrote {path} ({len(content) // 1024} KiB, {what}).")

    @staticmethod
    def profile_answers(kb: engine.KnowledgeBase, slug: str) -> dict[str, tuple[str, ...]]:
        profile = kb.profile(slug)
        if profile is None:
            known = ", ".join(p.slug for p in kb.profiles)
            raise CommandError(f"No use-case profile “{slug}”. Known profiles: {known}.")
        return dict(profile.answers)

    @staticmethod
    def file_answers(path: Path) -> dict[str, tuple[str, ...]]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from error
        except json.JSONDecodeError as error:
            raise CommandError(
                f"{path} is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
            ) from error
        if isinstance(data, dict) and isinstance(data.get("answers"), dict):
            data = data["answers"]
        if not isinstance(data, dict):
            raise CommandError(f"{path} must hold an object of question slugs to lists of option slugs.")
        chosen = {}
        for question, options in data.items():
            if isinstance(options, str):
                options = [options]
            if not isinstance(options, list) or not all(isinstance(option, str) for option in options):
                raise CommandError(f"Answer to “{question}” must be an option slug or a list of them.")
            chosen[question] = tuple(options)
        return chosen


def summary(data: dict) -> str:
    """A plain-text report for the terminal: the design part by part, then what applies to all of it."""
    lines = [f"Knowledge base version {data['knowledge_base_version']}", "", data["summary"]]
    for part in data["parts"]:
        lines += ["", f"== {part['name']} =="]
        if part["conflict"]:
            lines.append(part["conflict"])
        for layer in part["layers"]:
            role = "" if layer["role"] == "single" else f"{layer['role'].capitalize()} layer: "
            lines.append(f"{role}{layer['protocol']['name']}. Mode: {layer['mode']}")
        lines += [f"  {sentence}" for sentence in part["why"]]
        if part["ranking"]:
            lines.append("Ranking")
            lines += [
                f"  {row['rank']:>2}. {row['protocol']['name']:<45} {row['total']:6.1f}"
                for row in part["ranking"]
            ]
        if part["excluded"]:
            lines.append("Excluded")
            lines += [
                f"  - {row['protocol']['name']} ({row['question_title']}: {row['option_label']}): {row['reason']}"
                for row in part["excluded"]
            ]
        for facts in part["protocols"]:
            lines.append(f"Ports and protocol numbers for {facts['protocol']['name']}: {facts['ports']}")
        lines += _guidance_lines(part["guidance"])
    if data["answer_changes"]:
        lines += ["", "What would change the answer"]
        lines += [f"  - {row['sentence']}" for row in data["answer_changes"]]
    if data["assumptions"]:
        lines += ["", "Assumed for questions left open"]
        lines += [f"  - {row['question_title']}: {row['text']}" for row in data["assumptions"]]
    if data["warnings"]:
        lines += ["", "Warnings"]
        lines += [f"  - [{row['severity']}] {row['message']}" for row in data["warnings"]]
    if data["guidance"]:
        lines += ["", "== Across the design =="]
        lines += _guidance_lines(data["guidance"])
    return "\n".join(lines)


def _guidance_lines(items: list[dict]) -> list[str]:
    lines = []
    for item in items:
        sources = "; ".join(f"{ref['identifier']} {ref['section']}".strip() for ref in item["sources"])
        lines.append(f"  - [{item['kind']}] {item['title']}: {item['text']} ({sources})")
    return lines
