"""Django admin for the knowledge base: where maintainers keep the advice current."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, Value
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from advisor import engine, impact, knowledge, versioning
from advisor.models import (
    KNOWLEDGE_BASE_MODELS,
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


PREVIEW = "_preview"
"""The submit button that shows an edit's impact instead of saving it."""


class PreviewOnlyForm:
    """A form that validates but never counts as valid: the admin saves a valid form, a preview must not."""

    def is_valid(self) -> bool:
        super().is_valid()  # type: ignore[misc]  # mixed into a form class made at run time
        return False


def really_valid(form) -> bool:
    return form.is_bound and not form.errors


class VersionedAdmin(admin.ModelAdmin):
    """Records one knowledge-base version per admin action, with every changed value, and previews impact.

    "Preview impact" beside Save (on a record's page and on list pages with editable columns)
    validates the edit, applies it inside a transaction that is rolled back, and shows the form again,
    as it was typed, with what the edit would do to each use-case profile.
    """

    change_list_template = "admin/advisor/change_list.html"
    change_form_template = "admin/advisor/change_form.html"
    object_history_template = "admin/advisor/object_history.html"

    def _previewing(self, request) -> bool:
        return request.method == "POST" and PREVIEW in request.POST

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if not self._previewing(request):
            return form

        class PreviewForm(PreviewOnlyForm, form):  # type: ignore[valid-type,misc]
            pass

        return PreviewForm

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with versioning.collecting():
            response = super().changeform_view(request, object_id, form_url, extra_context)
        if self._previewing(request) and isinstance(response, TemplateResponse):
            context = response.context_data or {}
            form = context["adminform"].form
            formsets = [inline.formset for inline in context["inline_admin_formsets"]]
            if really_valid(form) and all(formset.is_valid() for formset in formsets):
                change = object_id is not None
                context["impact"] = self._measure(
                    [form.instance, *(f.instance for formset in formsets for f in formset.forms)],
                    lambda: self._save_everything(request, form, formsets, change),
                )
        return response

    def _save_everything(self, request, form, formsets, change: bool) -> None:
        obj = self.save_form(request, form, change=change)
        self.save_model(request, obj, form, change=change)
        self.save_related(request, form, formsets, change=change)

    def _measure(self, instances, apply) -> impact.Impact:
        """Measure `apply`'s impact, then give the form's objects back the ids they had: the save set them."""
        ids = [(instance, instance.pk, instance._state.adding) for instance in instances]
        try:
            return impact.measure(apply)
        finally:
            for instance, pk, adding in ids:
                instance.pk, instance._state.adding = pk, adding

    def get_changelist_formset(self, request, **kwargs):
        """While previewing a bulk edit, the list shows the edit as typed instead of the saved values."""
        formset = super().get_changelist_formset(request, **kwargs)
        if not self._previewing(request):
            return formset
        edited = self._get_list_editable_queryset(request, formset.get_default_prefix())

        class TypedFormSet(formset):  # type: ignore[valid-type,misc]
            def __init__(self, *args, **kwargs) -> None:
                kwargs["queryset"] = edited
                super().__init__(request.POST, request.FILES, **kwargs)

            @property
            def errors(self):
                """No errors when every row is valid, so the list does not ask to correct any."""
                errors = super().errors
                return errors if any(errors) else []

        return TypedFormSet

    def changelist_view(self, request, extra_context=None):
        if self._previewing(request):
            request.POST = request.POST.copy()
            request.POST.pop(helpers.ACTION_CHECKBOX_NAME, None)
        with versioning.collecting():
            response = super().changelist_view(request, extra_context)
        formset = getattr(response, "context_data", {}).get("cl") and response.context_data["cl"].formset  # type: ignore[attr-defined]
        if self._previewing(request) and formset is not None and formset.is_valid():
            changed = [form for form in formset.forms if form.has_changed()]
            response.context_data["impact"] = self._measure(  # type: ignore[attr-defined]
                [form.instance for form in changed], lambda: self._save_rows(request, changed)
            )
        return response

    def _save_rows(self, request, forms) -> None:
        for form in forms:
            obj = self.save_form(request, form, change=True)
            self.save_model(request, obj, form, change=True)
            self.save_related(request, form, formsets=[], change=True)

    def delete_view(self, request, *args, **kwargs):
        with versioning.collecting():
            return super().delete_view(request, *args, **kwargs)

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        versioning.record(
            KnowledgeBaseVersion.Action.ADDED, user=request.user, obj=obj, message=entry.get_change_message()
        )
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        versioning.record(
            KnowledgeBaseVersion.Action.CHANGED,
            user=request.user,
            obj=obj,
            message=entry.get_change_message(),
        )
        return entry

    def delete_model(self, request, obj) -> None:
        deleted = [(obj.pk, str(obj))]
        super().delete_model(request, obj)
        versioning.record_deletion(request.user, self.opts, deleted)

    def delete_queryset(self, request, queryset) -> None:
        deleted = [(obj.pk, str(obj)) for obj in queryset]
        super().delete_queryset(request, queryset)
        versioning.record_deletion(request.user, self.opts, deleted)

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        versions = list(versioning.changes_of(obj)) if obj is not None else []
        return super().history_view(request, object_id, {**(extra_context or {}), "versions": versions})


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
            if form.cleaned_data and not self._should_delete_form(form)  # type: ignore[attr-defined]
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
        return f"{obj.rating_count} of {obj.criterion_count}"  # type: ignore[attr-defined]


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
        return obj.effect_count  # type: ignore[attr-defined]


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
        cleaned = super().clean() or {}
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
                and not self._should_delete_form(form)  # type: ignore[attr-defined]
                and option.pk
                and option.effects.exists()
            ):
                form.add_error(
                    "is_unknown",
                    f"“{option.label}” has effects, and “I don't know” must leave the result as wide as it was. "
                    "Remove its effects on the option's page first.",
                )


def idle(option: Option) -> bool:
    """An answer that changes nothing, as the integrity check sees it: no effect, no flow, nothing depends on it."""
    if option.pk is None or option.is_unknown or option.flow_id is not None:
        return False
    relations = [
        option.effects,
        option.dependent_questions,  # type: ignore[attr-defined]
        option.rules_triggered,
        option.rules_silenced,
        option.guidance_when_all,
        option.guidance_when_any,
        option.guidance_unless_any,
    ]
    return not any(related.exists() for related in relations)


def effects_marker(option: Option) -> str:
    """What choosing the option does, in a word, with a visible warning when it does nothing."""
    if option.pk is None:
        return "—"
    if idle(option):
        return format_html('<span class="no-effects">{}</span>', "⚠ no effects")
    count = option.effects.count()
    if option.is_unknown:
        return "none (“I don't know”)"
    if count == 0:
        return "its flow" if option.flow_id is not None else "none; other records depend on it"
    return f"{count} effect{'' if count == 1 else 's'}"


def warn_about_idle_options(request, options) -> None:
    """After a save: name each option that changes nothing yet, linked to the page that gives it effects."""
    for option in options:
        if idle(option):
            url = reverse("admin:advisor_option_change", args=[option.pk])
            messages.warning(
                request,
                format_html(
                    '“{}” has no effects yet: choosing it changes nothing. <a href="{}">Give it effects</a>.',
                    option,
                    url,
                ),
            )


class OptionInline(PlainForeignKeysInline):
    model = Option
    formset = OptionFormSet
    fields = ["order", "slug", "label", "help_text", "is_unknown", "flow", "effects"]
    readonly_fields = ["effects"]
    extra = 0
    min_num = 2
    show_change_link = True
    prepopulated_fields = {"slug": ["label"]}

    def get_formset(self, request, obj=None, **kwargs):
        """A question needs two options to be a question; the admin refuses fewer, not just shows two rows."""
        return super().get_formset(request, obj, validate_min=True, **kwargs)

    @admin.display(description="effects")
    def effects(self, obj: Option) -> str:
        """What the option does, linked to its page, where its effects are edited."""
        if obj.pk is None:
            return effects_marker(obj)
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:advisor_option_change", args=[obj.pk]), effects_marker(obj)
        )


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

    def response_add(self, request, obj, *args, **kwargs):
        warn_about_idle_options(request, obj.options.all())
        return super().response_add(request, obj, *args, **kwargs)

    def response_change(self, request, obj):
        warn_about_idle_options(request, obj.options.all())
        return super().response_change(request, obj)

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
        effects = [form for form in self.forms if form.cleaned_data and not self._should_delete_form(form)]  # type: ignore[attr-defined]
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
        return "; ".join(str(effect) for effect in obj.effects.all()) or effects_marker(obj)

    def response_add(self, request, obj, *args, **kwargs):
        warn_about_idle_options(request, [obj])
        return super().response_add(request, obj, *args, **kwargs)

    def response_change(self, request, obj):
        warn_about_idle_options(request, [obj])
        return super().response_change(request, obj)


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
        return obj.answers_count  # type: ignore[attr-defined]

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
                and check.result.margin < engine.CLOSE_CALL,
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
            "narrow_margin": engine.CLOSE_CALL,
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
        cleaned = super().clean() or {}
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
    """The change history is a record, not something to edit; a version can be reverted by a new one."""

    list_display = [
        "number",
        "created_at",
        "username",
        "action",
        "object_type",
        "object_repr",
        "change_count",
    ]
    list_filter = ["action", "object_type", "username"]
    search_fields = ["object_repr", "message", "username"]
    date_hierarchy = "created_at"
    fields = [
        "number",
        "created_at",
        "username",
        "action",
        "object_type",
        "object_repr",
        "message",
        "reverted",
    ]
    readonly_fields = fields  # type: ignore[assignment]
    change_form_template = "admin/advisor/knowledgebaseversion/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(changes_count=Count("changes"))

    @admin.display(description="records changed", ordering="changes_count")
    def change_count(self, obj: KnowledgeBaseVersion) -> int:
        return obj.changes_count  # type: ignore[attr-defined]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        version = self.get_object(request, object_id)
        context = {**(extra_context or {})}
        if version is not None:
            context["changes"] = version.changes.all()
            context["reverted_by"] = version.reverted_by.all()
            context["can_revert"] = self.has_revert_permission(request)
        return super().change_view(request, object_id, form_url, context)

    def has_revert_permission(self, request) -> bool:
        """Reverting changes records of every kind, so it takes the right to change each of them."""
        return all(
            request.user.has_perm(f"advisor.change_{model._meta.model_name}")
            and request.user.has_perm(f"advisor.add_{model._meta.model_name}")
            and request.user.has_perm(f"advisor.delete_{model._meta.model_name}")
            for model in KNOWLEDGE_BASE_MODELS
        )

    def get_urls(self):
        revert = path(
            "<int:object_id>/revert/",
            self.admin_site.admin_view(self.revert_view),
            name="advisor_knowledgebaseversion_revert",
        )
        return [revert, *super().get_urls()]

    def revert_view(self, request, object_id: int):
        """Show what reverting a version would change back, and its impact; revert on confirmation."""
        if not self.has_revert_permission(request):
            raise PermissionDenied
        version = self.get_object(request, str(object_id))
        if version is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, str(object_id))  # type: ignore[attr-defined]
        page = reverse("admin:advisor_knowledgebaseversion_change", args=[version.pk])
        if request.method == "POST":
            try:
                new = versioning.revert(version, request.user)
            except versioning.RevertRefused as refusal:
                self.message_user(request, f"v{version.number} was not reverted. {refusal}", messages.ERROR)
                return HttpResponseRedirect(page)
            self.message_user(
                request,
                f"Reverted v{version.number}: the change is recorded as v{new.number}.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:advisor_knowledgebaseversion_change", args=[new.pk]))
        plan = versioning.plan_revert(version)
        preview = None
        if plan.possible:
            preview = impact.measure(lambda: versioning.apply_revert(version))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Revert v{version.number}?",
            "opts": self.opts,
            "version": version,
            "plan": plan,
            "impact": preview,
            "version_url": page,
        }
        return TemplateResponse(request, "admin/advisor/knowledgebaseversion/revert.html", context)


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
    readonly_fields = fields  # type: ignore[assignment]

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
    readonly_fields = fields  # type: ignore[assignment]

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
