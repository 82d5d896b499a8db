"""Pages of the public site: the start page, the wizard, reports and the protocol comparison.

Every page works as a plain page with post/redirect/get. With htmx, wizard
steps swap in place: the same URLs answer `HX-Request` with the `#wizard`
partial and push the new URL, so back, reload and bookmarks keep working.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import cast
from uuid import UUID

from django.contrib import messages
from django.db import InterfaceError, OperationalError, transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseLocation, push_url
from django_htmx.middleware import HtmxDetails

from advisor import bundle, decision, engine, knowledge, limits, owned, pdf, reports, tasks
from advisor.forms import FeedbackForm, ReportCoverForm, StepForm
from advisor.models import Assessment, Feedback, KnowledgeBaseVersion, Report, ReportPDF, UseCaseProfile

logger = logging.getLogger(__name__)

RECENT_KEPT = 8
# What a database that cannot be reached raises: refused or dropped connections, a locked or missing file.
DATABASE_ERRORS = (OperationalError, InterfaceError)
ARIA_CURRENT = mark_safe(' aria-current="step"')
ANSWERED = mark_safe('<span class="visually-hidden"> (answered)</span>')
# The query that marks a step opened from the review: once it is saved, the review comes back.
THEN_REVIEW = "then=review"


class HtmxHttpRequest(HttpRequest):
    """A request as django-htmx's middleware leaves it, so that type checkers know `request.htmx`."""

    htmx: HtmxDetails


def _too_many(request: HtmxHttpRequest, group: str) -> HttpResponse | None:
    """Count this request against its rate limit; the 429 page once the client is over it."""
    wait = limits.seconds_to_wait(request, group)
    return None if wait is None else too_many_requests(request, retry_after=wait)


def _is_partial(request: HtmxHttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request


@require_safe
def home(request: HtmxHttpRequest) -> HttpResponse:
    """What the tool does, how to start, and this browser's recent assessments that hold any answer."""
    kb = knowledge.current()
    recent_ids = owned.ids(request)[:RECENT_KEPT]
    recent = sorted(
        Assessment.objects.filter(id__in=recent_ids).select_related("profile").prefetch_related("reports"),
        key=lambda a: recent_ids.index(str(a.id)),
    )
    context = {
        "kb": kb,
        "profiles": kb.profiles,
        "recent": [_recent_row(kb, assessment) for assessment in recent if assessment.answers],
    }
    return render(request, "advisor/home.html", context)


def _recent_row(kb: engine.KnowledgeBase, assessment: Assessment) -> dict:
    """One recent assessment, named so that a person can tell it from the others.

    The latest report's title when it has one, else the flows the answers name
    (what is being protected), else the first question's answers.
    """
    report = next(iter(assessment.reports.all()), None)  # newest first
    answers, _ = engine.fit_answers(kb, assessment.answer_map())
    flows = [flow.name for slug in engine.flows_of(kb, answers) if (flow := kb.flow(slug))]
    first = kb.questions[0]
    labels = ", ".join(first.option(slug).label for slug in answers.get(first.slug, ()))
    name = (
        (report.title if report else "")
        or " + ".join(flows)
        or (f"{first.title}: {labels}" if labels else f"{first.title}: not answered yet")
    )
    return {"assessment": assessment, "name": name, "answered": len(answers), "report": report}


@require_POST
def start(request: HtmxHttpRequest) -> HttpResponse:
    """A new assessment, empty or prefilled from a use-case profile (the answers stay editable)."""
    if refused := _too_many(request, "start"):
        return refused
    kb = knowledge.current()
    slug = request.POST.get("profile", "")
    profile = kb.profile(slug) if slug else None
    if slug and profile is None:
        messages.error(request, "That use case no longer exists; start from another or from scratch.")
        return redirect("advisor:home")
    assessment = Assessment.objects.create(
        answers={q: list(o) for q, o in profile.answers.items()} if profile else {},
        profile=UseCaseProfile.objects.filter(slug=slug).first() if profile else None,
    )
    owned.remember(request, assessment.id)
    if profile:
        messages.info(
            request, f"Answers filled in for “{profile.name}”. Check each one; change any that differ."
        )
        return redirect("advisor:review", assessment.id)
    return redirect("advisor:step", assessment.id, kb.questions[0].slug)


def _step_url(assessment: Assessment) -> Callable[[str], str]:
    """The URL of each step of `assessment`: one reverse() per page, as the URLs differ only in the slug."""
    head = reverse("advisor:step", args=[assessment.id, "slug"]).removesuffix("slug/")
    return lambda slug: f"{head}{slug}/"


def _possible_questions(kb: engine.KnowledgeBase, answers: engine.Answers) -> tuple[engine.Question, ...]:
    """The questions asked, and those an unanswered question could still open, in order.

    Every option of an unanswered question counts as possibly chosen, so this is
    the longest path the answers so far allow: answering can only shorten it.
    """
    possible: set[engine.Pair] = set()
    found = []
    for question in kb.questions:
        if question.condition and question.condition.isdisjoint(possible):
            continue
        found.append(question)
        options = answers.get(question.slug) or tuple(option.slug for option in question.options)
        possible.update((question.slug, option) for option in options)
    return tuple(found)


def _count(number: int, visible: tuple[engine.Question, ...], possible: tuple[engine.Question, ...]) -> str:
    """“3 of 11”, or “1 of up to 17” while unanswered questions may still add to the path.

    The total never grows as a person answers in order: it is exact once every
    question that opens others is answered, and an upper bound before that.
    """
    if len(possible) == len(visible):
        return f"{number} of {len(visible)}"
    return f"{number} of up to {len(possible)}"


def _progress(
    assessment: Assessment,
    visible: tuple[engine.Question, ...],
    possible: tuple[engine.Question, ...],
    current: str | None,
) -> SafeString:
    """The progress list: each question on the longest possible path, linked once answered, then the review.

    A question carries its number once no undecided question comes before it, so
    a number shown never changes while answering; questions that only some
    answers ask say so.

    Built here rather than in a template: it is drawn on every step, and a template loop over
    every question was a third of a step's time.
    """
    step_url = _step_url(assessment)
    asked = {question.slug: number for number, question in enumerate(visible, start=1)}
    settled = True  # no question whose asking is still open comes before this one: its number is final
    items = []
    for question in possible:
        is_current, answered = question.slug == current, question.slug in assessment.answers
        if question.slug not in asked:
            settled = False
            items.append(
                format_html(
                    '<li class="todo maybe"><span><span class="step-number" aria-hidden="true"></span> '
                    '<span class="step-title">{}<span class="maybe-note"> (if your answers call for it)</span>'
                    "</span></span></li>",
                    question.title,
                )
            )
            continue
        if not (is_current or answered):
            items.append(
                format_html(
                    '<li class="todo"><span><span class="step-number"{}>{}</span> '
                    '<span class="step-title">{}</span></span></li>',
                    "" if settled else mark_safe(' aria-hidden="true"'),
                    asked[question.slug] if settled else "",
                    question.title,
                )
            )
            continue
        url = step_url(question.slug)
        items.append(
            format_html(
                '<li class="{}"><a href="{}" hx-get="{}"{}><span class="step-number">{}</span> '
                '<span class="step-title">{}{}</span></a></li>',
                "current" if is_current else "done",
                url,
                url,
                ARIA_CURRENT if is_current else "",
                asked[question.slug],
                question.title,
                "" if is_current else ANSWERED,
            )
        )
    review_url = reverse("advisor:review", args=[assessment.id])
    items.append(
        format_html(
            '<li class="{}"><a href="{}" hx-get="{}"{}>'
            '<span class="step-number" aria-hidden="true">✓</span> <span class="step-title">Review</span></a></li>',
            "todo" if current else "current",
            review_url,
            review_url,
            "" if current else ARIA_CURRENT,
        )
    )
    return format_html(
        '<nav class="progress" aria-label="Progress"><ol>{}</ol></nav>', mark_safe("".join(items))
    )


def _neighbours(visible: tuple[engine.Question, ...], slug: str) -> tuple[str | None, str | None]:
    """The asked questions just before and just after `slug`."""
    slugs = [question.slug for question in visible]
    index = slugs.index(slug)
    return (slugs[index - 1] if index else None, slugs[index + 1] if index + 1 < len(slugs) else None)


def _returning(request: HtmxHttpRequest) -> bool:
    """Whether this step was opened from the review, which comes back once the step is saved."""
    return request.GET.get("then") == "review"


def _step_context(
    assessment: Assessment,
    kb: engine.KnowledgeBase,
    question: engine.Question,
    form: StepForm,
    *,
    returning: bool,
    partial: bool,
) -> dict:
    answers = assessment.answer_map()
    visible = engine.visible_questions(kb, answers)
    possible = _possible_questions(kb, answers)
    previous, following = _neighbours(visible, question.slug)
    chosen = _chosen(form)
    number = visible.index(question) + 1
    count = _count(number, visible, possible)
    action = _step_url(assessment)(question.slug)
    return {
        "assessment": assessment,
        "question": question,
        "form": form,
        "kb": kb,
        "chosen": chosen,
        # The options as drawn depend only on these: the page caches them per knowledge-base version.
        "chosen_key": ",".join(sorted(chosen)),
        "previous": previous,
        "following": following,
        "progress": _progress(assessment, visible, possible, question.slug),
        "count": f"Question {count}",
        "title": f"{question.title}: question {count}",
        "returning": returning,
        # Opened from the review but never answered: a question that a changed answer has just added.
        "added": returning and question.slug not in answers,
        "submit_label": _submit_label(assessment, visible, question, following, returning=returning),
        "review_url": reverse("advisor:review", args=[assessment.id]),
        "action": f"{action}?{THEN_REVIEW}" if returning else action,
        "partial": partial,
    }


def _submit_label(
    assessment: Assessment,
    visible: tuple[engine.Question, ...],
    question: engine.Question,
    following: str | None,
    *,
    returning: bool,
) -> str:
    """What the main button does: says so when it leads back to the review."""
    if returning:
        return (
            "Save and continue"
            if _next_unanswered(assessment, visible, question.slug)
            else "Save and return to review"
        )
    return "Continue" if following else "Review answers"


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def step(request: HtmxHttpRequest, assessment_id: UUID, slug: str) -> HttpResponse:
    """One question. A valid answer is saved at once; then the next question, or back, or the review.

    A save reads the assessment once, locked, and writes it in the same transaction, so two quick
    submissions of one assessment never overwrite each other's answers.
    """
    # The knowledge base first: building it must never wait behind this request's own write lock.
    kb = knowledge.current()
    if request.method == "POST":
        with transaction.atomic():
            assessment = get_object_or_404(Assessment.objects.select_for_update(), id=assessment_id)
            return _step(request, assessment, kb, slug)
    return _step(request, get_object_or_404(Assessment, id=assessment_id), kb, slug)


def _step(
    request: HtmxHttpRequest, assessment: Assessment, kb: engine.KnowledgeBase, slug: str
) -> HttpResponse:
    question = kb.find_question(slug)
    if question is None:
        raise Http404("There is no such question.")
    dropped = _drop_stale_answers(assessment, kb)
    if dropped:
        messages.warning(
            request,
            "The questions have changed since you answered, so some answers were removed: "
            + " ".join(answer.reason for answer in dropped),
        )
    answers = assessment.answer_map()
    visible = engine.visible_questions(kb, answers)
    review_url = reverse("advisor:review", args=[assessment.id])
    if question not in visible:
        messages.warning(
            request,
            f"“{question.title}” is not asked after your other answers, so it was skipped. Nothing was lost.",
        )
        return _go(request, review_url)
    owned.remember(request, assessment.id)

    if request.method == "GET":
        form = StepForm(question, initial={"answer": _initial(question, answers.get(slug, ()))})
        return _render_step(request, assessment, kb, question, form)

    form = StepForm(question, request.POST)
    going_back = request.POST.get("direction") == "back"
    if not form.is_valid():
        if going_back and not request.POST.getlist("answer"):
            previous, _ = _neighbours(visible, slug)
            return _go(request, _step_or_start(assessment, previous))
        # Shown again at the same address: the wizard's inherited hx-push-url must add no history entry.
        return push_url(_render_step(request, assessment, kb, question, form), False)
    _save_answer(assessment, slug, form.cleaned_data["answer"])
    visible = engine.visible_questions(kb, assessment.answer_map())
    previous, following = _neighbours(visible, slug)
    if going_back:
        return _go(request, _step_or_start(assessment, previous))
    if _returning(request):
        return _go(request, _next_unanswered(assessment, visible, slug) or review_url)
    if following is None:
        return _go(request, review_url)
    return _go(request, reverse("advisor:step", args=[assessment.id, following]))


def _next_unanswered(assessment: Assessment, visible: tuple[engine.Question, ...], slug: str) -> str | None:
    """After a change made from the review, the first later question it left without an answer, if any.

    A changed answer can open questions never answered; only those are walked,
    each still marked as opened from the review, so the review comes back after them.
    """
    slugs = [question.slug for question in visible]
    for later in slugs[slugs.index(slug) + 1 :]:
        if later not in assessment.answers:
            return f"{reverse('advisor:step', args=[assessment.id, later])}?{THEN_REVIEW}"
    return None


def _chosen(form: StepForm) -> set[str]:
    """What the step shows as selected: the submitted choice after an error, else the saved answer."""
    value = cast(QueryDict, form.data).getlist("answer") if form.is_bound else form.initial.get("answer")
    if value is None:
        return set()
    return {value} if isinstance(value, str) else set(value)


def _initial(question: engine.Question, chosen: tuple[str, ...]):
    return (chosen[0] if chosen else None) if question.kind == engine.SINGLE else list(chosen)


def _step_or_start(assessment: Assessment, slug: str | None) -> str:
    return reverse("advisor:step", args=[assessment.id, slug]) if slug else reverse("advisor:home")


def _drop_stale_answers(assessment: Assessment, kb: engine.KnowledgeBase) -> tuple[engine.DroppedAnswer, ...]:
    """Remove the answers that edits of the knowledge base have made meaningless, and say which.

    Renamed or removed options and deleted questions would otherwise stop the
    assessment from ever issuing a report. Costs no query while every answer fits.
    """
    if not engine.answer_errors(kb, assessment.answer_map()):
        return ()
    with transaction.atomic():
        locked = Assessment.objects.select_for_update().get(id=assessment.id)
        kept, dropped = engine.fit_answers(kb, locked.answer_map())
        locked.answers = {slug: list(options) for slug, options in kept.items()}
        locked.save(update_fields=["answers", "updated_at"])
    assessment.answers = locked.answers
    return dropped


def _open_questions(
    kb: engine.KnowledgeBase, answers: engine.Answers, visible: tuple[engine.Question, ...]
) -> dict[str, str]:
    """What stops a report: asked questions still without a required answer, keyed by question slug.

    Answers to questions that are no longer asked are kept but count for
    nothing, so they never stand in the way.
    """
    asked = {question.slug for question in visible}
    return {slug: message for slug, message in engine.validate(kb, answers).items() if slug in asked}


def _save_answer(assessment: Assessment, slug: str, chosen: tuple[str, ...]) -> None:
    """Save one answer into the assessment that `step` has read and locked."""
    if chosen:
        assessment.answers[slug] = list(chosen)
    else:
        assessment.answers.pop(slug, None)
    assessment.save(update_fields=["answers", "updated_at"])


def _render_step(
    request: HtmxHttpRequest,
    assessment: Assessment,
    kb: engine.KnowledgeBase,
    question: engine.Question,
    form: StepForm,
) -> HttpResponse:
    partial = _is_partial(request)
    template = "advisor/step.html#wizard" if partial else "advisor/step.html"
    context = _step_context(assessment, kb, question, form, returning=_returning(request), partial=partial)
    return render(request, template, context)


def _go(request: HtmxHttpRequest, url: str) -> HttpResponse:
    """Post/redirect/get; for htmx, fetch the next page's partial through the same URL instead."""
    if not _is_partial(request):
        return redirect(url)
    return HttpResponseLocation(url, target="#wizard", swap="outerHTML")


def _review_context(assessment: Assessment, kb: engine.KnowledgeBase) -> dict:
    """The review of answers that fit `kb`: `_drop_stale_answers` has removed any that do not."""
    answers = assessment.answer_map()
    visible = engine.visible_questions(kb, answers)
    problems = _open_questions(kb, answers, visible)
    step_url = _step_url(assessment)
    rows = []
    for question in visible:
        chosen = answers.get(question.slug, ())
        rows.append(
            {
                "question": question,
                "labels": [question.option(o).label for o in chosen],
                "problem": problems.get(question.slug),
                "url": f"{step_url(question.slug)}?{THEN_REVIEW}",
            }
        )
    counted = {q.slug for q in visible}
    ignored = [
        {"question": kb.question(slug), "labels": [kb.question(slug).option(o).label for o in options]}
        for slug, options in answers.items()
        if slug not in counted
    ]
    return {
        "kb": kb,
        "assessment": assessment,
        "rows": rows,
        "ignored": ignored,
        "problems": problems,
        "warnings": engine.warnings(kb, answers),
        "progress": _progress(assessment, visible, _possible_questions(kb, answers), None),
        "title": "Review your answers",
        "first_missing": next((row["url"] for row in rows if row["problem"]), None),
    }


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def review(request: HtmxHttpRequest, assessment_id: UUID) -> HttpResponse:
    """Every answer with a link to change it, the engine's warnings, then the recommendation."""
    assessment = get_object_or_404(Assessment, id=assessment_id)
    kb = knowledge.current()
    owned.remember(request, assessment.id)
    dropped = _drop_stale_answers(assessment, kb)
    context = _review_context(assessment, kb)
    cover = ReportCoverForm(request.POST if request.method == "POST" else None)
    context["cover"] = cover
    context["dropped"] = dropped
    if request.method == "POST":
        if dropped:
            messages.error(
                request,
                "Some answers no longer fit the questions and were removed, as listed below. "
                "Check your answers, then ask for the recommendation again.",
            )
        elif context["problems"]:
            titles = [row["question"].title for row in context["rows"] if row["problem"]]
            if len(titles) == 1:
                messages.error(request, f"“{titles[0]}” still needs an answer; it is marked below.")
            else:
                messages.error(
                    request,
                    f"{len(titles)} questions still need an answer: "
                    + ", ".join(f"“{title}”" for title in titles)
                    + ". They are marked below.",
                )
        elif cover.is_valid():
            if refused := _too_many(request, "report"):
                return refused
            issued = reports.issue(kb, assessment.answer_map(), assessment=assessment, **cover.cleaned_data)
            return redirect("advisor:report", issued.id)
    context["partial"] = _is_partial(request)
    template = "advisor/review.html#wizard" if context["partial"] else "advisor/review.html"
    return render(request, template, context)


def _report_page(request: HtmxHttpRequest, issued: Report, *, status: int = 200, **extra) -> HttpResponse:
    permalink = request.build_absolute_uri(reverse("advisor:report", args=[issued.id]))
    context = {
        **reports.context(issued, permalink),
        "owner": owned.owns(request, issued.assessment_id),
        # The version served, not the newest: while the newest has problems, reports come from an older one.
        "kb_version": knowledge.current().version,
        "feedback_form": extra.pop("feedback_form", None) or FeedbackForm(),
        "feedback_sent": request.GET.get("feedback") == "sent",
        "changes": reports.diff(issued.previous, issued) if issued.previous else None,
        **extra,
    }
    return render(request, "advisor/report.html", context, status=status)


@require_safe
def report(request: HtmxHttpRequest, report_id: UUID) -> HttpResponse:
    """An issued report, shown from its snapshot; it says so when the knowledge base has moved on."""
    issued = get_object_or_404(Report.objects.select_related("assessment", "previous"), id=report_id)
    return _report_page(request, issued)


@require_POST
def reevaluate(request: HtmxHttpRequest, report_id: UUID) -> HttpResponse:
    """The same answers against today's knowledge base: a new report, linked to the old, which stays.

    Asking again changes nothing: with the knowledge base unchanged, the report itself or the
    re-evaluation already made from it is returned, not a copy.
    """
    issued = get_object_or_404(Report, id=report_id)
    kb = knowledge.current()
    answers, dropped = engine.fit_answers(kb, issued.answer_map())
    missing = [
        f"“{kb.question(slug).title}” needs an answer."
        for slug in _open_questions(kb, answers, engine.visible_questions(kb, answers))
    ]
    if dropped or missing:
        messages.error(
            request,
            "The questions have changed since this report, so its answers no longer fit. "
            + " ".join([*(answer.reason for answer in dropped), *missing])
            + " Change the answers in a new assessment made from this report.",
        )
        return redirect("advisor:report", issued.id)
    if issued.knowledge_base_version == kb.version:
        messages.info(request, "The knowledge base has not changed since this report: it stands as issued.")
        return redirect("advisor:report", issued.id)
    for earlier in Report.objects.filter(previous=issued, knowledge_base_version=kb.version):
        if earlier.answer_map() == answers:
            return redirect("advisor:report", earlier.id)
    if refused := _too_many(request, "reevaluate"):
        return refused
    fresh = reports.issue(
        kb,
        answers,
        # A reader of the permalink gets a new report without attaching it to someone else's assessment.
        assessment=issued.assessment if owned.owns(request, issued.assessment_id) else None,
        title=issued.title,
        organisation=issued.organisation,
        previous=issued,
    )
    return redirect("advisor:report", fresh.id)


@require_POST
def copy_answers(request: HtmxHttpRequest, report_id: UUID) -> HttpResponse:
    """“Change answers” from a report's permalink: a new assessment of this browser, the report untouched.

    The permalink is made to be passed around (it is printed in the PDF), so it never edits the
    assessment behind the report.
    """
    issued = get_object_or_404(Report, id=report_id)
    if refused := _too_many(request, "start"):
        return refused
    kb = knowledge.current()
    answers, dropped = engine.fit_answers(kb, issued.answer_map())
    assessment = Assessment.objects.create(answers={slug: list(options) for slug, options in answers.items()})
    owned.remember(request, assessment.id)
    messages.info(
        request,
        "This is a new assessment with the report's answers; the report stays as it was. "
        "Change what differs, then ask for a new recommendation.",
    )
    if dropped:
        messages.warning(
            request,
            "The questions have changed since the report, so some answers were left out: "
            + " ".join(answer.reason for answer in dropped),
        )
    return redirect("advisor:review", assessment.id)


@require_POST
def feedback(request: HtmxHttpRequest, report_id: UUID) -> HttpResponse:
    """“Was this right?”: stored for the maintainers, listed in the admin with the report's answers."""
    issued = get_object_or_404(Report.objects.select_related("assessment", "previous"), id=report_id)
    if refused := _too_many(request, "feedback"):
        return refused
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        # htmx swaps only successful responses: its form gets the errors in place, with a 200.
        if _is_partial(request):
            return render(request, "advisor/report.html#feedback", {"report": issued, "feedback_form": form})
        return _report_page(request, issued, status=400, feedback_form=form)
    Feedback.objects.create(report=issued, **form.cleaned_data)
    if _is_partial(request):
        return render(request, "advisor/report.html#feedback", {"report": issued, "feedback_sent": True})
    # The thank-you shows where the form was: the fragment brings the browser back to it.
    return redirect(reverse("advisor:report", args=[issued.id]) + "?feedback=sent#feedback")


@require_safe
def report_pdf(request: HtmxHttpRequest, report_id: UUID) -> HttpResponseBase:
    """The report as PDF: rendered once per paper size, then always served from storage."""
    issued = get_object_or_404(Report.objects.select_related("assessment", "previous"), id=report_id)
    paper = request.GET.get("paper", ReportPDF.Paper.A4)
    if paper not in ReportPDF.Paper.values:
        return _report_page(request, issued, status=400, pdf_problem="Paper size must be A4 or US Letter.")
    # Counted only when this request would start a render: a stored or pending PDF costs nothing.
    fresh = not ReportPDF.objects.filter(report=issued, paper=paper).exists()
    if fresh and (refused := _too_many(request, "pdf")):
        return refused
    permalink = request.build_absolute_uri(reverse("advisor:report", args=[issued.id]))
    stored = tasks.ensure_pdf(issued, paper, permalink)
    if stored.status == ReportPDF.Status.READY:
        return FileResponse(stored.file.open("rb"), as_attachment=True, filename=pdf.filename(issued, paper))
    if stored.status == ReportPDF.Status.PENDING and not stored.stalled:
        return _report_page(
            request,
            issued,
            status=202,
            pdf_problem="The PDF is being prepared. Reload this page in a minute.",
        )
    return _report_page(
        request,
        issued,
        status=503,
        pdf_problem="The PDF could not be produced. This report page is complete and stays available; "
        "you can try the PDF again.",
        pdf_retry=True,
        pdf_paper=paper,
    )


@require_safe
def decision_record(request: HtmxHttpRequest, report_id: UUID, extension: str) -> HttpResponse:
    """The report's decision record, as Markdown for people or JSON for tools, built from its snapshot."""
    issued = get_object_or_404(Report, id=report_id)
    if extension not in ("md", "json"):
        raise Http404("A decision record comes as .md or .json.")
    if "parts" not in issued.result:
        raise Http404("Reports issued before designs had parts have no decision record; re-evaluate it.")
    permalink = request.build_absolute_uri(reverse("advisor:report", args=[issued.id]))
    record = decision.record(issued, permalink)
    if extension == "json":
        body, content_type = decision.as_json(record), "application/json"
    else:
        body, content_type = decision.as_markdown(record), "text/markdown; charset=utf-8"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{decision.filename(issued, extension)}"'
    return response


@require_safe
def report_bundle(request: HtmxHttpRequest, report_id: UUID) -> HttpResponse:
    """The deployment bundle: PDF, decision record and configuration starting points, from the snapshot."""
    issued = get_object_or_404(Report, id=report_id)
    if not bundle.has_bundle(issued):
        raise Http404("Reports issued before designs had parts have no bundle; re-evaluate it.")
    # The bundle carries the A4 PDF: counted only when that has still to be rendered.
    unrendered = not ReportPDF.objects.filter(
        report=issued, paper=ReportPDF.Paper.A4, status=ReportPDF.Status.READY
    ).exists()
    if unrendered and (refused := _too_many(request, "pdf")):
        return refused
    permalink = request.build_absolute_uri(reverse("advisor:report", args=[issued.id]))
    response = HttpResponse(
        bundle.archive(issued, permalink, tasks.pdf_bytes(issued, permalink)), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="{bundle.filename(issued)}"'
    return response


@require_POST
def report_pdf_retry(request: HtmxHttpRequest, report_id: UUID) -> HttpResponse:
    """Forget a failed or stalled render and try again."""
    issued = get_object_or_404(Report, id=report_id)
    if refused := _too_many(request, "pdf"):
        return refused
    paper = request.POST.get("paper", ReportPDF.Paper.A4)
    for stored in ReportPDF.objects.filter(report=issued, paper=paper).exclude(status=ReportPDF.Status.READY):
        if stored.status == ReportPDF.Status.FAILED or stored.stalled:
            stored.delete()
    return redirect(reverse("advisor:report_pdf", args=[issued.id]) + f"?paper={paper}")


@require_safe
def compare(request: HtmxHttpRequest) -> HttpResponse:
    """Every protocol against every criterion: the knowledge base, browsable and filterable."""
    kb = knowledge.current()
    chosen = request.GET.get("criterion", "")
    criteria = [c for c in kb.criteria if not chosen or c.slug == chosen]
    rows = [
        {
            "protocol": protocol,
            "cells": [
                {
                    "criterion": criterion,
                    "rating": kb.ratings[protocol.slug, criterion.slug],
                    "references": [
                        kb.references[s] for s in kb.ratings[protocol.slug, criterion.slug].references
                    ],
                }
                for criterion in criteria
            ],
        }
        for protocol in kb.protocols
    ]
    matrix = [
        {"criterion": criterion, "ratings": [kb.ratings[p.slug, criterion.slug] for p in kb.protocols]}
        for criterion in kb.criteria
    ]
    context = {
        "kb": kb,
        "criteria": criteria,
        "all_criteria": kb.criteria,
        "chosen": chosen,
        "rows": rows,
        "protocols": kb.protocols,
        "matrix": matrix,
    }
    return render(request, "advisor/compare.html", context)


@require_safe
def healthz(request: HtmxHttpRequest) -> HttpResponse:
    """Liveness for load balancers: the process answers, without touching the database."""
    return HttpResponse("ok", content_type="text/plain")


@never_cache
@require_safe
def readyz(request: HtmxHttpRequest) -> HttpResponse:
    """Readiness for load balancers: this process reaches the database and has a knowledge base to serve."""
    try:
        version = KnowledgeBaseVersion.current_number()
    except DATABASE_ERRORS as error:
        logger.warning("Not ready: the database cannot be reached (%s: %s)", type(error).__name__, error)
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    if not version:
        return JsonResponse(
            {"status": "unavailable", "database": "ok", "knowledge_base": "empty"}, status=503
        )
    return JsonResponse({"status": "ready", "database": "ok", "knowledge_base_version": version})


def server_error(request: HtmxHttpRequest) -> HttpResponse:
    """Every unhandled error ends here (Django's handler500); a database that cannot be reached is a 503.

    Pages rendered here touch no database: the error may be that there is none.
    """
    if isinstance(sys.exc_info()[1], DATABASE_ERRORS):
        return unavailable(request)
    return _error_page(request, "500.html", 500)


def unavailable(request: HtmxHttpRequest) -> HttpResponse:
    """The database is out of reach: say so plainly, ask to retry shortly; saved answers are safe."""
    return _error_page(request, "503.html", 503, retry_after=30)


def _error_page(
    request: HtmxHttpRequest, template: str, status: int, retry_after: int | None = None
) -> HttpResponse:
    if request.path.startswith("/api/"):
        detail = {
            500: "An unexpected error occurred; it has been logged.",
            503: "The service cannot reach its database. Nothing was lost; try again in a minute.",
        }[status]
        response: HttpResponse = JsonResponse({"detail": detail}, status=status)
    else:
        response = HttpResponse(render_to_string(template), status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


def too_many_requests(
    request: HtmxHttpRequest, exception: Exception | None = None, retry_after: int = 60
) -> HttpResponse:
    """Over a rate limit: 429, saying how long to wait (the API gets JSON); nothing was saved or lost."""
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"detail": "Too many requests from this address; try again later."}, status=429
        )
    else:
        response = render(request, "429.html", {"retry_after": retry_after}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def csrf_failure(request: HtmxHttpRequest, reason: str = "") -> HttpResponse:
    """A form came back without a valid security token: say so plainly; saved answers are safe."""
    return render(request, "advisor/csrf_failure.html", {"reason": reason}, status=403)
