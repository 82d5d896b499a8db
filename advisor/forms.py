"""Forms for the wizard: one form per question, built from the knowledge-base snapshot."""

from __future__ import annotations

from typing import cast

from django import forms
from django.http import QueryDict

from advisor import engine


class StepForm(forms.Form):
    """The answer to one question: a radio group or a set of checkboxes."""

    def __init__(self, question: engine.Question, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.question = question
        choices = [(option.slug, option.label) for option in question.options]
        if question.kind == engine.SINGLE:
            field = forms.ChoiceField(choices=choices, widget=forms.RadioSelect, required=question.required)
        else:
            field = forms.MultipleChoiceField(
                choices=choices, widget=forms.CheckboxSelectMultiple, required=question.required
            )
        field.label = question.text
        field.help_text = question.help_text
        field.error_messages["required"] = (
            "Choose one answer to go on."
            if question.kind == engine.SINGLE
            else "Choose at least one answer to go on."
        )
        field.error_messages["invalid_choice"] = (
            "That answer is not one of the options; choose one from the list."
        )
        field.error_messages["invalid_list"] = "Send a list of options."
        self.fields["answer"] = field

    def clean_answer(self):
        value = self.cleaned_data["answer"]
        # The field sees only the last of several values for a radio group, and a set for checkboxes.
        sent = [slug for slug in cast(QueryDict, self.data).getlist(self.add_prefix("answer")) if slug]
        if len(sent) != len(set(sent)):
            raise forms.ValidationError("The same option was sent twice; choose each answer once.")
        if self.question.kind == engine.SINGLE and len(sent) > 1:
            raise forms.ValidationError("This question takes one answer; choose only one.")
        chosen = [value] if isinstance(value, str) else list(value)
        chosen = [slug for slug in chosen if slug]
        if len(chosen) > 1 and any(self.question.option(slug).is_unknown for slug in chosen):
            raise forms.ValidationError("“I don't know” cannot be combined with other answers.")
        return tuple(chosen)


class ReportCoverForm(forms.Form):
    """Optional words for the report's cover; shown as typed, escaped everywhere."""

    title = forms.CharField(
        label="Report title", required=False, max_length=120, help_text="For example the project or system."
    )
    organisation = forms.CharField(label="Organisation", required=False, max_length=120)


class FeedbackForm(forms.Form):
    agrees = forms.TypedChoiceField(
        label="Was this recommendation right for your situation?",
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        error_messages={"required": "Choose yes or no."},
    )
    comment = forms.CharField(
        label="What would you change? (optional)",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
