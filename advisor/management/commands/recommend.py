from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from advisor import engine, knowledge, pdf, reports
from advisor.models import ReportPDF


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

    def handle(
        self,
        *args,
        answers: Path | None,
        profile: str | None,
        format: str,
        pdf_path: Path | None,
        paper: str,
        **options,
    ) -> None:
        kb = knowledge.current()
        chosen = self.profile_answers(kb, profile) if profile else self.file_answers(answers)
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
        if pdf_path:
            self.write_pdf(kb, chosen, pdf_path, paper)

    def write_pdf(self, kb: engine.KnowledgeBase, chosen: engine.Answers, path: Path, paper: str) -> None:
        """Stdout keeps the text or JSON clean for pipes; the confirmation goes to stderr."""
        report = reports.issue(kb, chosen, save=False)
        # Unsaved, so auto_now_add has not stamped it: the cover and file date read today.
        report.created_at = timezone.now()
        content = pdf.render(report, paper, permalink="(not stored)")
        try:
            path.write_bytes(content)
        except OSError as error:
            raise CommandError(f"Cannot write {path}: {error.strerror}.") from error
        self.stderr.write(f"Wrote {path} ({len(content) // 1024} KiB, {ReportPDF.Paper(paper).label}).")

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
    """A plain-text report for the terminal."""
    lines = [f"Knowledge base version {data['knowledge_base_version']}", ""]
    if data["primary"] is None:
        lines.append("No protocol meets every constraint of these answers; see the exclusions below.")
    else:
        top = data["ranking"][0]
        verdict = f"Recommended: {data['primary']['name']} ({top['total']:.1f} of 100)"
        if data["runner_up"]:
            verdict += f", {data['margin']:.1f} points ahead of {data['runner_up']['name']}"
        lines.append(verdict + ".")
    if data["layering"]:
        layering = data["layering"]
        lines.append(
            f"Layered design: {layering['network']['name']} on the network path and "
            f"{layering['application']['name']} for the applications. {layering['reason']}"
        )
    lines += ["", "Ranking"]
    lines += [
        f"  {row['rank']:>2}. {row['protocol']['name']:<45} {row['total']:6.1f}" for row in data["ranking"]
    ]
    if data["excluded"]:
        lines += ["", "Excluded"]
        lines += [
            f"  - {row['protocol']['name']} ({row['question_title']}: {row['option_label']}): {row['reason']}"
            for row in data["excluded"]
        ]
    weighted = [row for row in data["weights"] if row["from_answers"]]
    if weighted:
        lines += ["", "What your answers made important"]
        for row in sorted(weighted, key=lambda row: -row["weight"]):
            sources = ", ".join(f"{s['option_label']} +{s['weight']}" for s in row["from_answers"])
            lines.append(f"  - {row['criterion_name']}: weight {row['weight']} ({sources})")
    if data["answer_changes"] or data["sensitivity"]:
        lines += ["", "What would change the answer"]
        lines += [f"  - {row['sentence']}" for row in data["answer_changes"]]
        lines += [
            f"  - Weight of “{row['criterion_name']}” moving from {row['weight']} to {row['flip_at']:.1f} "
            f"would put {row['new_leader']['name']} first."
            for row in data["sensitivity"][:5]
        ]
    if data["warnings"]:
        lines += ["", "Warnings"]
        lines += [f"  - [{row['severity']}] {row['message']}" for row in data["warnings"]]
    for guide in data["guidance"]:
        lines += ["", f"Configuration: {guide['protocol']['name']}"]
        lines += [f"  - {line}" for line in guide["configuration"]]
        lines.append(f"  Ports and protocol numbers: {guide['ports']}")
        lines.append("  Sources: " + "; ".join(ref["identifier"] for ref in guide["references"]))
    return "\n".join(lines)
