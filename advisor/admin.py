"""Django admin for the knowledge base: where maintainers keep the advice current."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, Value
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from advisor import engine, knowledge, versioning
from advisor.models import (
    ConsistencyRule,
    Criterion,
    Feedback,
    Flow,
    Guidance,
    GuidanceSource,
    KnowledgeBaseVersion,
    Option,
    OptionEffect,
    ProfileAnswer,
    Protocol,
    Question,
    Rating,
    Reference,
    Report,
    ReportPDF,
    SourceDisagreement,
    UseCaseProfile,
)

NARROW_MARGIN = 3.0
"""Points below which an agreeing profile is flagged: one small edit could flip it."""

COMPACT_TEXTAREA = forms.Textarea(attrs={"rows": 4, "cols": 48})


class PlainForeignKeysInline(admin.TabularInline):
    """Tabular inlines without the add/change/view icons beside each select: one row, one line."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(db_field, models.ForeignKey | models.ManyToManyField) and formfield is not None:
            widget = formfield.widget
            widget.can_add_related = widget.can_change_related = widget.can_view_related = False
            widget.can_delete_related = False
        return formfield


class VersionedAdmin(admin.ModelAdmin):
    """Records one knowledge-base version per admin action, with the admin's change message."""

    change_list_template = "admin/advisor/change_list.html"
    change_form_template = "admin/advisor/change_form.html"

    def changeform_view(self, request, *args, **kwargs):
        with versioning.recorded_elsewhere():
            return super().changeform_view(request, *args, **kwargs)

    def delete_view(self, request, *args, **kwargs):
        with versioning.recorded_elsewhere():
            return super().delete_view(request, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        with versioning.recorded_elsewhere():
            return super().changelist_view(request, *args, **kwargs)

    def _record_version(self, request, action: str, obj, entry) -> None:
        KnowledgeBaseVersion.record(
            action,
            user=request.user,
            object_type=str(self.opts.verbose_name),
            object_repr=str(obj),
            message=entry.get_change_message() if entry is not None else "",
        )

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        self._record_version(request, KnowledgeBaseVersion.Action.ADDED, obj, entry)
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        if message:
            self._record_version(request, KnowledgeBaseVersion.Action.CHANGED, obj, entry)
        return entry

    def log_deletions(self, request, queryset):
        entries = super().log_deletions(request, queryset)
        names = ", ".join(str(obj) for obj in queryset)
        KnowledgeBaseVersion.record(
            KnowledgeBaseVersion.Action.DELETED,
            user=request.user,
            object_type=str(self.opts.verbose_name_plural if len(queryset) > 1 else self.opts.verbose_name),
            object_repr=names,
            message=f"Deleted {names}.",
        )
        return entries


@admin.register(Reference)
class ReferenceAdmin(VersionedAdmin):
    list_display = ["identifier", "title", "publisher", "year", "url"]
    list_filter = ["publisher", "year"]
    search_fields = ["identifier", "title", "publisher"]
    prepopulated_fields = {"slug": ["identifier"]}


class CompleteRatingsFormSet(forms.BaseInlineFormSet):
    """One rating for every protocol on a criterion's page, or for every criterion on a protocol's page.

    The engine ranks protocols on the full matrix, so a new criterion or
    protocol is saved with all its ratings or not at all. Rows for the missing
    ones come prefilled.
    """

    rated_field: str
    """The rating's other side: 'protocol' on a criterion's page, 'criterion' on a protocol's."""
    missing_message: str

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.initial_extra is None:
            rated = self.get_queryset().values_list(self.rated_field, flat=True)
            missing = self._rated_model().objects.exclude(pk__in=list(rated)).values_list("pk", flat=True)
            self.initial_extra = [{self.rated_field: pk} for pk in missing]
            self.extra = len(self.initial_extra)

    def _rated_model(self):
        return Rating._meta.get_field(self.rated_field).related_model

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        rated = {
            form.cleaned_data[self.rated_field].pk
            for form in self.forms
            if form.cleaned_data and not self._should_delete_form(form)
        }
        missing = self._rated_model().objects.exclude(pk__in=rated)
        if missing.exists():
            names = ", ".join(str(record) for record in missing)
            raise forms.ValidationError(f"{self.missing_message} Not rated yet: {names}.")


class CriterionRatingsFormSet(CompleteRatingsFormSet):
    rated_field = "protocol"
    missing_message = "Rate every protocol on this criterion."


class ProtocolRatingsFormSet(CompleteRatingsFormSet):
    rated_field = "criterion"
    missing_message = "Rate this protocol on every criterion."


class RatingInline(PlainForeignKeysInline):
    model = Rating
    extra = 0
    autocomplete_fields = ["references"]
    formfield_overrides = {models.TextField: {"widget": COMPACT_TEXTAREA}}


class ProtocolRatingInline(RatingInline):
    fields = ["criterion", "score", "rationale", "references"]
    ordering = ["criterion__order"]
    formset = ProtocolRatingsFormSet


class CriterionRatingInline(RatingInline):
    fields = ["protocol", "score", "rationale", "references"]
    ordering = ["protocol__order"]
    formset = CriterionRatingsFormSet


@admin.register(Protocol)
class ProtocolAdmin(VersionedAdmin):
    list_display = ["name", "family", "layer", "ports", "rated_criteria", "order"]
    list_filter = ["family", "layer"]
    search_fields = ["name", "slug", "summary", "mode"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["references"]
    inlines = [ProtocolRatingInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "family", "layer", "order", "summary"]}),
        ("Assessment", {"fields": ["strengths", "limitations"]}),
        ("Configuration", {"fields": ["mode", "ports", "references"]}),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(rating_count=Count("ratings"), criterion_count=Value(Criterion.objects.count()))
        )

    @admin.display(description="rated criteria", ordering="rating_count")
    def rated_criteria(self, obj: Protocol) -> str:
        return f"{obj.rating_count} of {obj.criterion_count}"


@admin.register(Criterion)
class CriterionAdmin(VersionedAdmin):
    list_display = ["name", "base_weight", "order", "weighted_by_options"]
    list_editable = ["base_weight", "order"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [CriterionRatingInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(effect_count=Count("effects"))

    @admin.display(description="options weighting it", ordering="effect_count")
    def weighted_by_options(self, obj: Criterion) -> int:
        return obj.effect_count


@admin.register(Rating)
class RatingAdmin(VersionedAdmin):
    list_display = ["criterion", "protocol", "score", "short_rationale"]
    list_display_links = ["criterion"]
    list_per_page = 40
    list_filter = ["protocol", "criterion", "score"]
    list_select_related = ["protocol", "criterion"]
    search_fields = ["rationale", "protocol__name", "criterion__name"]
    autocomplete_fields = ["references"]
    formfield_overrides = {models.TextField: {"widget": COMPACT_TEXTAREA}}

    @admin.display(description="rationale")
    def short_rationale(self, obj: Rating) -> str:
        return obj.rationale if len(obj.rationale) <= 120 else obj.rationale[:119] + "…"


class QuestionAdminForm(forms.ModelForm):
    """Conditions may only look back: at options of questions asked earlier."""

    class Meta:
        model = Question
        fields = ["order", "slug", "title", "text", "help_text", "kind", "required", "condition_options"]

    def clean(self):
        cleaned = super().clean()
        order = cleaned.get("order")
        condition_options = list(cleaned.get("condition_options") or [])
        if order is None:
            return cleaned
        this_question = self.instance.pk
        depends_on = {option.question_id for option in condition_options}
        cycle = dependency_cycle(this_question, depends_on) if this_question else None
        if cycle:
            self.add_error("condition_options", f"These conditions would create a cycle: {cycle}.")
            return cleaned
        for option in condition_options:
            if this_question and option.question_id == this_question:
                self.add_error(
                    "condition_options",
                    f"“{option.label}” is an option of this question; it cannot be its own condition.",
                )
            elif option.question.order >= order:
                self.add_error(
                    "condition_options",
                    f"“{option}” belongs to question {option.question.order}, which is not asked before "
                    f"this one (position {order}). Conditions may only refer to earlier questions.",
                )
        if this_question:
            for dependent in Question.objects.filter(condition_options__question_id=this_question).distinct():
                if dependent.pk != this_question and dependent.order <= order:
                    self.add_error(
                        "order",
                        f"“{dependent.title}” (position {dependent.order}) is shown only after an answer to this "
                        f"question, so this question must stay before position {dependent.order}.",
                    )
        return cleaned


def dependency_cycle(question_id: int, proposed: set[int]) -> str | None:
    """Describe the loop that `question_id` depending on `proposed` questions would close, if any."""
    edges: dict[int, set[int]] = {}
    for dependent_id, dependency_id in Question.condition_options.through.objects.values_list(
        "question_id", "option__question_id"
    ):
        edges.setdefault(dependent_id, set()).add(dependency_id)
    edges[question_id] = set(proposed)
    titles = dict(Question.objects.values_list("id", "title"))

    def path_back(current: int, seen: list[int]) -> list[int] | None:
        for nxt in sorted(edges.get(current, ())):
            if nxt == question_id:
                return [*seen, nxt]
            if nxt not in seen:
                found = path_back(nxt, [*seen, nxt])
                if found:
                    return found
        return None

    loop = path_back(question_id, [question_id])
    if loop is None:
        return None
    return " → ".join(f"“{titles.get(qid, 'this question')}”" for qid in loop)


class OptionFormSet(forms.BaseInlineFormSet):
    """An option cannot become “I don't know” while it still has effects: that answer must stay neutral."""

    def clean(self) -> None:
        super().clean()
        for form in self.forms:
            option = form.instance
            if (
                form.cleaned_data.get("is_unknown")
                and not self._should_delete_form(form)
                and option.pk
                and option.effects.exists()
            ):
                form.add_error(
                    "is_unknown",
                    f"“{option.label}” has effects, and “I don't know” must leave the result as wide as it was. "
                    "Remove its effects on the option's page first.",
                )


class OptionInline(admin.TabularInline):
    model = Option
    formset = OptionFormSet
    fields = ["order", "slug", "label", "help_text", "is_unknown", "flow"]
    extra = 0
    min_num = 2
    show_change_link = True
    prepopulated_fields = {"slug": ["label"]}

    def get_formset(self, request, obj=None, **kwargs):
        """A question needs two options to be a question; the admin refuses fewer, not just shows two rows."""
        return super().get_formset(request, obj, validate_min=True, **kwargs)


@admin.register(Question)
class QuestionAdmin(VersionedAdmin):
    form = QuestionAdminForm
    list_display = ["order", "title", "text", "kind", "required", "lever_cost", "condition"]
    list_display_links = ["title"]
    list_filter = ["kind", "required", "lever_cost"]
    search_fields = ["title", "text", "help_text", "slug", "assumption"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["condition_options"]
    inlines = [OptionInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("condition_options__question")

    @admin.display(description="shown only after")
    def condition(self, obj: Question) -> str:
        return (
            format_html_join(", ", "{}", ((str(option),) for option in obj.condition_options.all()))
            or "always"
        )


class OptionEffectFormSet(forms.BaseInlineFormSet):
    """“I don't know” has no effects; any other option has one, unless a question or a warning depends on it."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        option = self.instance
        effects = [form for form in self.forms if form.cleaned_data and not self._should_delete_form(form)]
        if option.is_unknown and effects:
            raise forms.ValidationError(
                "“I don't know” must leave the result as wide as it was: remove these effects, "
                "or untick “I don't know”."
            )
        depended_on = option.pk and (
            option.dependent_questions.exists()
            or option.rules_triggered.exists()
            or option.rules_silenced.exists()
        )
        if not option.is_unknown and not effects and not depended_on:
            raise forms.ValidationError(
                "Choosing this option would change nothing: give it an effect, or tick “I don't know”."
            )


class OptionEffectInline(PlainForeignKeysInline):
    model = OptionEffect
    formset = OptionEffectFormSet
    fields = ["kind", "criterion", "weight", "protocol", "reason"]
    extra = 1


@admin.register(Option)
class OptionAdmin(VersionedAdmin):
    list_display = ["label", "question", "is_unknown", "flow", "bears_on", "effect_summary"]
    list_filter = ["question", "is_unknown", "flow", "weakens_protection", "offered_as_change"]
    list_select_related = ["question", "flow"]
    search_fields = ["label", "help_text", "slug", "question__title"]
    filter_horizontal = ["applies_to"]
    fields = [
        "question",
        "slug",
        "order",
        "label",
        "help_text",
        "is_unknown",
        "flow",
        "applies_to",
        "weakens_protection",
        "offered_as_change",
    ]
    inlines = [OptionEffectInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("effects__criterion", "effects__protocol", "applies_to")
        )

    @admin.display(description="bears on")
    def bears_on(self, obj: Option) -> str:
        if obj.flow is not None:
            return f"its own flow ({obj.flow})"
        return ", ".join(str(flow) for flow in obj.applies_to.all()) or "every flow"

    @admin.display(description="effects")
    def effect_summary(self, obj: Option) -> str:
        return "; ".join(str(effect) for effect in obj.effects.all()) or "none"


@admin.register(Flow)
class FlowAdmin(VersionedAdmin):
    list_display = ["name", "slug", "order", "description"]
    list_editable = ["order"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}


class GuidanceSourceInline(PlainForeignKeysInline):
    model = GuidanceSource
    fields = ["reference", "section"]
    autocomplete_fields = ["reference"]
    extra = 1
    min_num = 1

    def get_formset(self, request, obj=None, **kwargs):
        """Every guidance item cites at least one source; the admin refuses one without."""
        return super().get_formset(request, obj, validate_min=True, **kwargs)


@admin.register(Guidance)
class GuidanceAdmin(VersionedAdmin):
    list_display = ["title", "kind", "key", "protocol_names", "flow_names", "conditions", "order"]
    list_filter = ["kind", "protocols", "flows"]
    search_fields = ["title", "text", "slug", "key"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["protocols", "flows", "when_all", "when_any", "unless_any"]
    inlines = [GuidanceSourceInline]
    fieldsets = [
        (None, {"fields": ["title", "slug", "kind", "key", "text", "order"]}),
        (
            "Shown when",
            {
                "description": "Empty lists impose nothing. An item shows for a part of a design when the part "
                "uses one of its protocols, protects one of its flows, and the answers meet every condition.",
                "fields": ["protocols", "flows", "when_all", "when_any", "unless_any"],
            },
        ),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                "protocols", "flows", "when_all__question", "when_any__question", "unless_any__question"
            )
        )

    @admin.display(description="protocols")
    def protocol_names(self, obj: Guidance) -> str:
        return ", ".join(p.name for p in obj.protocols.all()) or "any"

    @admin.display(description="flows")
    def flow_names(self, obj: Guidance) -> str:
        return ", ".join(f.name for f in obj.flows.all()) or "any"

    @admin.display(description="answers")
    def conditions(self, obj: Guidance) -> str:
        groups = [
            ("all of", obj.when_all.all()),
            ("any of", obj.when_any.all()),
            ("none of", obj.unless_any.all()),
        ]
        return (
            "; ".join(f"{words} {', '.join(map(str, options))}" for words, options in groups if options)
            or "always"
        )


@admin.register(OptionEffect)
class OptionEffectAdmin(VersionedAdmin):
    list_display = ["option", "kind", "criterion", "weight", "protocol", "reason"]
    list_filter = ["kind", "criterion", "protocol", "option__question"]
    list_select_related = ["option__question", "criterion", "protocol"]
    search_fields = ["reason", "option__label", "option__question__title"]


class ProfileAnswerFormSet(forms.BaseInlineFormSet):
    """Preset answers a user could give: one per single-choice question, and every asked question answered."""

    def clean(self) -> None:
        super().clean()
        answered: dict[int, str] = {}
        answers: dict[str, tuple[str, ...]] = {}
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE"):
                continue
            question, option = form.cleaned_data.get("question"), form.cleaned_data.get("option")
            if question is None or option is None:
                continue
            if question.kind == Question.Kind.SINGLE and question.pk in answered:
                raise forms.ValidationError(
                    f"“{question.title}” is a single-choice question; keep only one answer to it."
                )
            answered[question.pk] = question.title
            answers[question.slug] = (*answers.get(question.slug, ()), option.slug)
        if any(self.errors):
            return
        kb = knowledge.state().live
        problems = engine.validate(kb, answers)
        if problems:
            raise forms.ValidationError(
                [f"“{kb.question(slug).title}”: {message}" for slug, message in problems.items()]
            )


class ProfileAnswerInline(PlainForeignKeysInline):
    model = ProfileAnswer
    formset = ProfileAnswerFormSet
    fields = ["question", "option"]
    extra = 1

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "option":
            kwargs["queryset"] = Option.objects.select_related("question")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(UseCaseProfile)
class UseCaseProfileAdmin(VersionedAdmin):
    list_display = ["name", "expected_protocol", "answer_count", "order"]
    list_filter = ["expected_protocol"]
    list_select_related = ["expected_protocol"]
    search_fields = ["name", "description", "expected_rationale"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["references"]
    inlines = [ProfileAnswerInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(answers_count=Count("answers"))

    @admin.display(description="preset answers", ordering="answers_count")
    def answer_count(self, obj: UseCaseProfile) -> int:
        return obj.answers_count

    def get_urls(self):
        check = path(
            "check/",
            self.admin_site.admin_view(self.check_profiles_view),
            name="advisor_usecaseprofile_check",
        )
        return [check, *super().get_urls()]

    def check_profiles_view(self, request):
        """Every profile through the engine with the knowledge base as served now, beside its expectation."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        state = knowledge.state()
        kb = state.served
        checks = engine.check_profiles(kb)
        pks = dict(UseCaseProfile.objects.values_list("slug", "pk"))
        rows = [
            {
                "profile": kb.profile(check.profile),
                "expected": kb.protocol(check.expected),
                "primary": kb.protocol(check.result.primary) if check.result.primary else None,
                "runner_up": kb.protocol(check.result.runner_up) if check.result.runner_up else None,
                "margin": check.result.margin,
                "agrees": check.agrees,
                "narrow": check.agrees
                and check.result.margin is not None
                and check.result.margin < NARROW_MARGIN,
                "gap": check.gap,
                "pk": pks.get(check.profile),
            }
            for check in checks
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Check use-case profiles",
            "opts": self.opts,
            "rows": rows,
            "disagreements": sum(not row["agrees"] for row in rows),
            "narrow_margin": NARROW_MARGIN,
            "version": kb.version,
            "live_version": state.live.version,
            "has_problems": bool(state.problems),
            "repaired": state.repaired,
        }
        return TemplateResponse(request, "admin/advisor/check_profiles.html", context)


class ConsistencyRuleForm(forms.ModelForm):
    """A rule must be able to fire: no two answers to one single-choice question, no self-silencing."""

    class Meta:
        model = ConsistencyRule
        fields = ["name", "slug", "severity", "message", "when_all", "unless_any", "references"]

    def clean(self):
        cleaned = super().clean()
        when_all = list(cleaned.get("when_all") or [])
        by_question: dict[int, list[Option]] = {}
        for option in when_all:
            by_question.setdefault(option.question_id, []).append(option)
        for options in by_question.values():
            question = options[0].question
            if question.kind == Question.Kind.SINGLE and len(options) > 1:
                self.add_error(
                    "when_all",
                    f"“{question.title}” takes a single answer, so these options are never chosen together: "
                    + ", ".join(f"“{option.label}”" for option in options)
                    + ".",
                )
        overlap = set(when_all) & set(cleaned.get("unless_any") or [])
        if overlap:
            self.add_error(
                "unless_any",
                "An option cannot both trigger and silence the warning: "
                + ", ".join(f"“{option}”" for option in overlap)
                + ".",
            )
        return cleaned


@admin.register(ConsistencyRule)
class ConsistencyRuleAdmin(VersionedAdmin):
    form = ConsistencyRuleForm
    list_display = ["name", "severity", "trigger"]
    list_filter = ["severity"]
    search_fields = ["name", "message"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["when_all", "unless_any"]
    autocomplete_fields = ["references"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("when_all__question")

    @admin.display(description="when all of")
    def trigger(self, obj: ConsistencyRule) -> str:
        return "; ".join(str(option) for option in obj.when_all.all())


@admin.register(KnowledgeBaseVersion)
class KnowledgeBaseVersionAdmin(admin.ModelAdmin):
    """The change history is a record, not something to edit."""

    list_display = ["number", "created_at", "username", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type", "username"]
    search_fields = ["object_repr", "message", "username"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in KnowledgeBaseVersion._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SourceDisagreement)
class SourceDisagreementAdmin(VersionedAdmin):
    list_display = ["topic", "protocol_names"]
    search_fields = ["topic", "summary"]
    prepopulated_fields = {"slug": ["topic"]}
    filter_horizontal = ["protocols"]
    autocomplete_fields = ["references"]

    @admin.display(description="shown for")
    def protocol_names(self, obj: SourceDisagreement) -> str:
        return ", ".join(str(protocol) for protocol in obj.protocols.all())


def answers_list(report: Report) -> str:
    return format_html(
        "<ul>{}</ul>",
        format_html_join(
            "",
            "<li><strong>{}</strong>: {}</li>",
            (
                (row["question_title"], "; ".join(o["label"] for o in row["options"]))
                for row in report.answers
            ),
        ),
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Issued reports and what users said about them are records: viewable, not editable here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "primary", "title", "organisation", "knowledge_base_version"]
    list_filter = ["knowledge_base_version"]
    search_fields = ["title", "organisation", "id"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "created_at",
        "title",
        "organisation",
        "knowledge_base_version",
        "primary",
        "page",
        "answers_given",
    ]
    readonly_fields = fields

    @admin.display(description="recommendation")
    def primary(self, obj: Report) -> str:
        return obj.primary_name

    @admin.display(description="report page")
    def page(self, obj: Report) -> str:
        url = reverse("advisor:report", args=[obj.id])
        return format_html('<a href="{}">{}</a>', url, url)

    @admin.display(description="answers")
    def answers_given(self, obj: Report) -> str:
        return answers_list(obj)


@admin.register(ReportPDF)
class ReportPDFAdmin(ReadOnlyAdmin):
    list_display = ["report", "paper", "status", "attempts", "rendered_at", "render_ms", "pages", "size"]
    list_filter = ["status", "paper"]
    readonly_fields = [
        "report",
        "paper",
        "status",
        "file",
        "error",
        "rendered_at",
        "render_ms",
        "pages",
        "size",
        "attempts",
        "lease_until",
        "task_id",
    ]


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "agrees", "recommendation", "comment"]
    list_filter = ["agrees", "created_at"]
    search_fields = ["comment"]
    list_select_related = ["report"]
    fields = ["created_at", "agrees", "comment", "recommendation", "report_link", "answers_given"]
    readonly_fields = fields

    @admin.display(description="recommendation")
    def recommendation(self, obj: Feedback) -> str:
        return obj.report.primary_name

    @admin.display(description="report")
    def report_link(self, obj: Feedback) -> str:
        url = reverse("advisor:report", args=[obj.report_id])
        return format_html('<a href="{}">{}</a>', url, url)

    @admin.display(description="the report's answers")
    def answers_given(self, obj: Feedback) -> str:
        return answers_list(obj.report)
