"""The knowledge base that admins maintain, and the version log of its changes.

Everything the recommendation engine knows lives here as data: protocols, the
criteria they are judged on, a rating of every protocol on every criterion,
the wizard's questions and the effects of their options, and use-case
profiles that double as the regression suite of our domain knowledge.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import IntegrityError, connections, models, router, transaction
from django.db.models import Q
from django.utils import timezone

PDF_RENDER_TIMEOUT = timedelta(minutes=10)
VERSION_ATTEMPTS = 10
"""How often a knowledge-base version is tried with the next free number before the save fails."""
RATING_MIN = 0
RATING_MAX = 5
EFFECT_WEIGHT_MIN = 1
EFFECT_WEIGHT_MAX = 5


class SlugManager(models.Manager):
    """Look objects up by slug so fixtures can use natural keys."""

    def get_by_natural_key(self, slug: str):
        return self.get(slug=slug)


class SlugKeyed(models.Model):
    """A knowledge-base record that fixtures name by its slug rather than its database id.

    A subclass whose records point at other records repeats `natural_key` only to attach
    `natural_key.dependencies`, which tells the fixture export what to write first.
    """

    slug = models.SlugField(max_length=60, unique=True)

    objects = SlugManager()

    class Meta:
        abstract = True

    def natural_key(self) -> tuple[str]:
        return (self.slug,)


class Reference(SlugKeyed):
    """A public source that a fact in the knowledge base can be traced to."""

    identifier = models.CharField(
        max_length=80,
        unique=True,
        help_text="How the source is cited, e.g. “RFC 7296” or “NIST SP 800-77r1”.",
    )
    title = models.CharField(max_length=250)
    publisher = models.CharField(max_length=120)
    year = models.PositiveSmallIntegerField(validators=[MinValueValidator(1970), MaxValueValidator(2100)])
    url = models.URLField("URL", max_length=300)

    class Meta:
        ordering = ["identifier"]

    def __str__(self) -> str:
        return self.identifier


class Protocol(SlugKeyed):
    """One way to protect data in transit that the advisor can recommend."""

    class Family(models.TextChoices):
        TLS = "tls", "SSL/TLS"
        IPSEC = "ipsec", "IPsec"
        TLS_VPN = "tls_vpn", "SSL/TLS VPN"
        LAYERED = "layered", "Layered (IPsec + TLS)"
        OTHER_VPN = "other_vpn", "Other VPN"

    class Layer(models.TextChoices):
        APPLICATION = "application", "Application / transport (per connection)"
        NETWORK = "network", "Network (IP packets)"
        TUNNEL = "tunnel", "Application layer carrying network traffic"
        BOTH = "both", "Network and application"

    name = models.CharField(max_length=80, unique=True)
    family = models.CharField(max_length=20, choices=Family)
    layer = models.CharField(max_length=20, choices=Layer)
    order = models.PositiveSmallIntegerField(default=0, help_text="Position in lists and tables.")
    summary = models.TextField(help_text="One or two sentences: what it protects and how.")
    strengths = models.TextField(help_text="One strength per line.")
    limitations = models.TextField(help_text="One limitation per line.")
    mode = models.CharField(
        max_length=200,
        default="",
        help_text="The mode a design uses it in, e.g. “ESP in tunnel mode between gateways, keys from IKEv2”; "
        "a “mode” guidance item can replace it for particular answers.",
    )
    ports = models.CharField(
        "ports and protocol numbers",
        max_length=200,
        help_text="What must pass the firewalls, e.g. “UDP 500, UDP 4500, IP protocol 50”.",
    )
    references = models.ManyToManyField(Reference, related_name="protocols")

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class Flow(SlugKeyed):
    """A kind of traffic flow a design can protect: a link between sites, remote access, a public service.

    A case may name several flows; the engine designs one part for each, scored
    with the answers that bear on that flow.
    """

    name = models.CharField(
        max_length=80, unique=True, help_text="Names the part of a design, e.g. “Link between sites”."
    )
    description = models.TextField(help_text="What this flow covers, in the user's words.")
    order = models.PositiveSmallIntegerField(default=0, help_text="Position of this part in a design.")

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class Criterion(SlugKeyed):
    """A property that distinguishes protocols; answers decide how much it matters."""

    name = models.CharField(max_length=80, unique=True)
    description = models.TextField(help_text="What a high rating on this criterion means.")
    base_weight = models.PositiveSmallIntegerField(
        default=1,
        validators=[MaxValueValidator(EFFECT_WEIGHT_MAX)],
        help_text="Weight before any answer adds to it; 0 means it counts only when an answer asks for it.",
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]
        verbose_name_plural = "criteria"

    def __str__(self) -> str:
        return self.name


class RatingManager(models.Manager):
    def get_by_natural_key(self, protocol_slug: str, criterion_slug: str):
        return self.get(protocol__slug=protocol_slug, criterion__slug=criterion_slug)


class Rating(models.Model):
    """How well one protocol meets one criterion, with the reason and its source."""

    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="ratings")
    criterion = models.ForeignKey(Criterion, on_delete=models.CASCADE, related_name="ratings")
    score = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(RATING_MIN), MaxValueValidator(RATING_MAX)],
        help_text=f"{RATING_MIN} (does not meet it) to {RATING_MAX} (meets it fully).",
    )
    rationale = models.TextField()
    references = models.ManyToManyField(Reference, related_name="ratings")

    objects = RatingManager()

    class Meta:
        ordering = ["protocol__order", "criterion__order"]
        constraints = [
            models.UniqueConstraint(
                fields=["protocol", "criterion"], name="one_rating_per_protocol_criterion"
            ),
            models.CheckConstraint(
                condition=Q(score__gte=RATING_MIN) & Q(score__lte=RATING_MAX), name="rating_score_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.protocol} / {self.criterion}: {self.score}"

    def natural_key(self) -> tuple[str, str]:
        return (self.protocol.slug, self.criterion.slug)

    natural_key.dependencies = ["advisor.protocol", "advisor.criterion"]  # type: ignore[attr-defined]


class Question(SlugKeyed):
    """A wizard question, asked in `order`, optionally only after certain answers."""

    class Kind(models.TextChoices):
        SINGLE = "single", "Single choice"
        MULTIPLE = "multiple", "Multiple choice"

    order = models.PositiveSmallIntegerField(unique=True)
    title = models.CharField(max_length=60, help_text="Short step title for the progress bar.")
    text = models.CharField(max_length=250)
    help_text = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=Kind, default=Kind.SINGLE)
    required = models.BooleanField(default=True)
    assumption = models.TextField(
        blank=True,
        help_text="What the advice assumes when this is answered “I don't know” or left open; "
        "reports list it among their assumptions.",
    )
    lever_cost = models.PositiveSmallIntegerField(
        "cost of changing the answer",
        default=3,
        validators=[MaxValueValidator(5)],
        help_text="0: the answer describes the case and is never offered as a change. "
        "1 (easy, e.g. open a firewall port) to 5 (hard): “What would change the answer” lists the cheapest changes first.",
    )
    condition_options: models.ManyToManyField[Option, Any] = models.ManyToManyField(
        "Option",
        blank=True,
        related_name="dependent_questions",
        verbose_name="shown only after",
        help_text="Ask this question only when one of these options was chosen in an earlier question.",
    )

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return f"{self.order}. {self.title}"


class OptionManager(models.Manager):
    def get_by_natural_key(self, question_slug: str, slug: str):
        return self.get(question__slug=question_slug, slug=slug)


class Option(models.Model):
    """One possible answer; its effects say what choosing it means for the engine."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="options")
    slug = models.SlugField(max_length=60)
    order = models.PositiveSmallIntegerField(
        blank=True, help_text="Position among the question's options; left empty, the option goes last."
    )
    label = models.CharField(max_length=200)
    help_text = models.CharField(max_length=300, blank=True)
    is_unknown = models.BooleanField(
        "“I don't know”",
        default=False,
        help_text="An honest “I don't know”: it adds no weight and excludes nothing, so the result stays wide.",
    )
    flow = models.ForeignKey(
        Flow,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="options",
        help_text="Choosing this option adds this flow to the design; its effects then apply to that part only.",
    )
    applies_to = models.ManyToManyField(
        Flow,
        blank=True,
        related_name="bearing_options",
        verbose_name="bears on flows",
        help_text="The parts of a design this answer's effects apply to; empty means every part.",
    )
    weakens_protection = models.BooleanField(
        default=False,
        help_text="Choosing it gives up protection (e.g. integrity only, no compliance regime): "
        "never offered as a way to get a different recommendation.",
    )
    offered_as_change = models.BooleanField(
        default=True,
        help_text="Offered as a change the user could make. Turn off for answers that describe a harder "
        "situation (NAT, only TCP 443, no client possible): they are then offered only to settle a question "
        "left open.",
    )

    objects = OptionManager()

    class Meta:
        ordering = ["question__order", "order"]
        constraints = [
            models.UniqueConstraint(fields=["question", "slug"], name="option_slug_unique_per_question"),
        ]

    def __str__(self) -> str:
        return f"{self.question.title}: {self.label}"

    def save(self, *args, **kwargs) -> None:
        """A new option without a position goes after the question's last option, not before its first."""
        if self.order is None:
            siblings = Option.objects.filter(question_id=self.question_id)
            last = siblings.aggregate(last=models.Max("order"))["last"]
            self.order = 1 if last is None else last + 1
        super().save(*args, **kwargs)

    def natural_key(self) -> tuple[str, str]:
        return (self.question.slug, self.slug)

    natural_key.dependencies = ["advisor.question"]  # type: ignore[attr-defined]


class OptionEffectManager(models.Manager):
    def get_by_natural_key(self, question_slug: str, option_slug: str, kind: str, target_slug: str):
        found = self.filter(option__question__slug=question_slug, option__slug=option_slug, kind=kind)
        if kind == OptionEffect.Kind.WEIGHT:
            return found.get(criterion__slug=target_slug)
        if kind == OptionEffect.Kind.LAYERS:
            return found.get()
        return found.get(protocol__slug=target_slug)


class OptionEffect(models.Model):
    """What choosing an option does: weight a criterion, exclude or require a protocol, or demand two layers."""

    class Kind(models.TextChoices):
        WEIGHT = "weight", "Adds weight to a criterion"
        EXCLUDE = "exclude", "Excludes a protocol"
        REQUIRE = "require", "Requires one of the protocols it names"
        LAYERS = "layers", "Requires two independent layers of protection"

    option = models.ForeignKey(Option, on_delete=models.CASCADE, related_name="effects")
    kind = models.CharField(max_length=10, choices=Kind, default=Kind.WEIGHT)
    criterion = models.ForeignKey(
        Criterion, on_delete=models.CASCADE, null=True, blank=True, related_name="effects"
    )
    weight = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(EFFECT_WEIGHT_MIN), MaxValueValidator(EFFECT_WEIGHT_MAX)],
        help_text=f"Added to the criterion's weight, {EFFECT_WEIGHT_MIN} to {EFFECT_WEIGHT_MAX}.",
    )
    protocol = models.ForeignKey(
        Protocol, on_delete=models.CASCADE, null=True, blank=True, related_name="effects"
    )
    reason = models.CharField(
        max_length=400, blank=True, help_text="Why the constraint holds; shown to the user in the report."
    )

    objects = OptionEffectManager()

    class Meta:
        ordering = ["option__question__order", "option__order", "kind", "id"]
        constraints = [
            models.UniqueConstraint(fields=["option", "criterion"], name="one_weight_per_option_criterion"),
            models.UniqueConstraint(
                fields=["option", "kind", "protocol"], name="one_constraint_per_option_protocol"
            ),
            models.UniqueConstraint(
                fields=["option"], condition=Q(kind="layers"), name="one_layers_effect_per_option"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="weight", criterion__isnull=False, weight__isnull=False, protocol__isnull=True)
                    | (
                        Q(kind="layers", protocol__isnull=True, criterion__isnull=True, weight__isnull=True)
                        & ~Q(reason="")
                    )
                    | (
                        Q(kind__in=["exclude", "require"], protocol__isnull=False, criterion__isnull=True)
                        & ~Q(reason="")
                    )
                ),
                name="option_effect_fields_match_kind",
            ),
            models.CheckConstraint(
                condition=Q(weight__isnull=True)
                | Q(weight__gte=EFFECT_WEIGHT_MIN, weight__lte=EFFECT_WEIGHT_MAX),
                name="option_effect_weight_in_range",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.WEIGHT:
            return f"+{self.weight} {self.criterion}"
        if self.kind == self.Kind.LAYERS:
            return "requires two layers"
        verb = "excludes" if self.kind == self.Kind.EXCLUDE else "requires"
        return f"{verb} {self.protocol}"

    def natural_key(self) -> tuple[str, str, str, str]:
        if self.kind == self.Kind.LAYERS:
            return (*self.option.natural_key(), self.kind, "")
        target = self.criterion if self.kind == self.Kind.WEIGHT else self.protocol
        return (*self.option.natural_key(), self.kind, target.slug if target else "")

    natural_key.dependencies = ["advisor.option", "advisor.criterion", "advisor.protocol"]  # type: ignore[attr-defined]

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind == self.Kind.WEIGHT:
            if self.criterion_id is None:
                errors["criterion"] = "A weight effect needs the criterion it weights."
            if self.weight is None:
                errors["weight"] = "A weight effect needs a weight."
            if self.protocol_id is not None:
                errors["protocol"] = "A weight effect weights a criterion, not a protocol; leave this empty."
        else:
            if self.kind == self.Kind.LAYERS:
                if self.protocol_id is not None:
                    errors["protocol"] = "Two layers are a kind of design, not a protocol; leave this empty."
            elif self.protocol_id is None:
                errors["protocol"] = "Name the protocol this constraint applies to."
            if not self.reason.strip():
                errors["reason"] = "Every hard constraint states its reason; users see it in the report."
            if self.criterion_id is not None:
                errors["criterion"] = "A constraint applies to a protocol; leave the criterion empty."
            if self.weight is not None:
                errors["weight"] = "A constraint carries no weight; leave this empty."
        if errors:
            raise ValidationError(errors)


class UseCaseProfile(SlugKeyed):
    """A typical situation with preset answers and the protocol an expert expects."""

    name = models.CharField(max_length=100, unique=True)
    order = models.PositiveSmallIntegerField(default=0)
    description = models.TextField()
    expected_protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, related_name="expected_by")
    expected_rationale = models.TextField(
        "why this protocol", help_text="Why an expert expects this protocol here."
    )
    references = models.ManyToManyField(Reference, related_name="profiles")

    class Meta:
        ordering = ["order", "name"]
        verbose_name = "use-case profile"

    def __str__(self) -> str:
        return self.name


class ProfileAnswerManager(models.Manager):
    def get_by_natural_key(self, profile_slug: str, question_slug: str, option_slug: str):
        return self.get(
            profile__slug=profile_slug, option__question__slug=question_slug, option__slug=option_slug
        )


class ProfileAnswer(models.Model):
    """One preset answer of a profile: an option of a question."""

    profile = models.ForeignKey(UseCaseProfile, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="profile_answers")
    option = models.ForeignKey(Option, on_delete=models.CASCADE, related_name="profile_answers")

    objects = ProfileAnswerManager()

    class Meta:
        ordering = ["profile__order", "question__order", "option__order"]
        constraints = [
            models.UniqueConstraint(fields=["profile", "option"], name="profile_answer_option_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.question.title}: {self.option.label}"

    def natural_key(self) -> tuple[str, str, str]:
        return (self.profile.slug, *self.option.natural_key())

    natural_key.dependencies = ["advisor.usecaseprofile", "advisor.option"]  # type: ignore[attr-defined]

    def clean(self) -> None:
        if self.question_id and self.option_id and self.option.question_id != self.question_id:
            raise ValidationError(
                {
                    "option": f"“{self.option.label}” belongs to another question (“{self.option.question.title}”)."
                }
            )


class ConsistencyRule(SlugKeyed):
    """A combination of answers that is contradictory or risky, and what to tell the user about it."""

    class Severity(models.TextChoices):
        CONFLICT = "conflict", "Conflict: the answers contradict each other"
        RISK = "risk", "Risk: the answers point to a known pitfall"
        NOTE = "note", "Note: worth knowing"

    name = models.CharField(max_length=100, unique=True)
    severity = models.CharField(max_length=10, choices=Severity, default=Severity.RISK)
    message = models.TextField(help_text="What is wrong or risky, and what to do about it.")
    when_all = models.ManyToManyField(
        Option,
        related_name="rules_triggered",
        verbose_name="when all of these are chosen",
    )
    unless_any = models.ManyToManyField(
        Option,
        blank=True,
        related_name="rules_silenced",
        verbose_name="unless any of these is chosen",
    )
    references = models.ManyToManyField(Reference, blank=True, related_name="rules")

    class Meta:
        ordering = ["name"]
        verbose_name = "consistency warning"

    def __str__(self) -> str:
        return self.name

    def natural_key(self) -> tuple[str]:
        return super().natural_key()

    natural_key.dependencies = ["advisor.option", "advisor.reference"]  # type: ignore[attr-defined]


class Guidance(SlugKeyed):
    """A checklist item, pitfall or configuration note, shown only when the answers call for it.

    An item applies to a part of a design when the part uses one of its
    protocols (or it names none), protects one of its flows (or it names none),
    and the answers hold every “when all”, at least one “when any” (if any are
    named) and none of the “unless any”.
    """

    class Kind(models.TextChoices):
        MODE = "mode", "Mode: states how the protocol is run for these answers"
        CONFIGURATION = "configuration", "Configuration: versions, algorithms, ports"
        CHECKLIST = "checklist", "Checklist: a step to take"
        PITFALL = "pitfall", "Pitfall: a known way to get it wrong"
        QUANTUM = "quantum", "Post-quantum mechanism: how the protocol resists harvest now, decrypt later"
        URGENCY = "urgency", "Post-quantum urgency: how soon it matters for these answers"
        SETTING = "setting", "Setting: values a configuration file uses (proposals, suites, ports, versions)"

    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=20, choices=Kind, default=Kind.CHECKLIST)
    key = models.SlugField(
        max_length=60,
        blank=True,
        help_text="For a setting: the name the configuration templates use, e.g. “strongswan_esp”. "
        "For one protocol and key, the first setting in order whose conditions hold is used.",
    )
    title = models.CharField(max_length=120)
    text = models.TextField(
        help_text="What to do, in one to three sentences an engineer can act on; for a setting, its values, "
        "one per line, in the configured program's own syntax."
    )
    order = models.PositiveSmallIntegerField(default=0)
    protocols = models.ManyToManyField(
        Protocol, blank=True, related_name="guidance", help_text="Shown for these protocols; none means any."
    )
    flows = models.ManyToManyField(
        Flow,
        blank=True,
        related_name="guidance",
        help_text="Shown for parts protecting these flows; none means any.",
    )
    when_all = models.ManyToManyField(
        Option, blank=True, related_name="guidance_when_all", verbose_name="when all of these are chosen"
    )
    when_any = models.ManyToManyField(
        Option, blank=True, related_name="guidance_when_any", verbose_name="when any of these is chosen"
    )
    unless_any = models.ManyToManyField(
        Option, blank=True, related_name="guidance_unless_any", verbose_name="unless any of these is chosen"
    )
    references = models.ManyToManyField(Reference, through="GuidanceSource", related_name="guidance")

    class Meta:
        ordering = ["order", "slug"]
        verbose_name_plural = "guidance"

    def __str__(self) -> str:
        return self.title

    def natural_key(self) -> tuple[str]:
        return super().natural_key()

    natural_key.dependencies = ["advisor.protocol", "advisor.flow", "advisor.option", "advisor.reference"]  # type: ignore[attr-defined]


class GuidanceSourceManager(models.Manager):
    def get_by_natural_key(self, guidance_slug: str, reference_slug: str):
        return self.get(guidance__slug=guidance_slug, reference__slug=reference_slug)


class GuidanceSource(models.Model):
    """The source a guidance item rests on, down to the section."""

    guidance = models.ForeignKey(Guidance, on_delete=models.CASCADE, related_name="sources")
    reference = models.ForeignKey(Reference, on_delete=models.PROTECT, related_name="guidance_sources")
    section = models.CharField(
        max_length=120, blank=True, help_text="e.g. “section 5” or “requirement 4.2.1”."
    )

    objects = GuidanceSourceManager()

    class Meta:
        ordering = ["guidance__order", "reference__identifier"]
        constraints = [
            models.UniqueConstraint(fields=["guidance", "reference"], name="one_source_row_per_reference"),
        ]

    def __str__(self) -> str:
        return f"{self.reference.identifier} {self.section}".strip()

    def natural_key(self) -> tuple[str, str]:
        return (self.guidance.slug, self.reference.slug)

    natural_key.dependencies = ["advisor.guidance", "advisor.reference"]  # type: ignore[attr-defined]


class KnowledgeBaseVersion(models.Model):
    """One numbered change to the knowledge base: who changed what, and when.

    Reports record the number they were made with, and the engine's cache is
    keyed on the latest number, so every change must create a row.
    """

    class Action(models.TextChoices):
        LOADED = "loaded", "Loaded from fixtures"
        ADDED = "added", "Added"
        CHANGED = "changed", "Changed"
        DELETED = "deleted", "Deleted"
        REVERTED = "reverted", "Reverted"

    number = models.PositiveIntegerField(unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, help_text="Kept even if the user is deleted.")
    action = models.CharField(max_length=10, choices=Action)
    object_type = models.CharField(max_length=100, blank=True)
    object_repr = models.CharField("object", max_length=200, blank=True)
    object_model = models.CharField(
        max_length=100, blank=True, help_text="The model name of the record the change was made on."
    )
    object_id = models.PositiveIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    reverted = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reverted_by",
        help_text="The version whose changes this one undid.",
    )

    class Meta:
        ordering = ["-number"]
        get_latest_by = "number"
        verbose_name = "knowledge-base version"

    def __str__(self) -> str:
        return f"v{self.number}"

    @classmethod
    def current_number(cls) -> int:
        """The number of the newest version, 0 for an empty knowledge base.

        Every page asks this first, so it is one plain statement: compiling the equivalent queryset
        took as long as running it.
        """
        connection = connections[router.db_for_read(cls)]
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX(number) FROM {connection.ops.quote_name(cls._meta.db_table)}")
            latest = cursor.fetchone()[0]
        return latest or 0

    @classmethod
    def record(
        cls,
        action: str,
        *,
        user=None,
        object_type: str = "",
        object_repr: str = "",
        object_model: str = "",
        object_id: int | None = None,
        message: str = "",
        reverted: KnowledgeBaseVersion | None = None,
    ) -> KnowledgeBaseVersion:
        """Create the next version. Two writers can read the same newest number; the unique number lets
        only one of them have it, and the other takes the next one."""
        for attempt in range(VERSION_ATTEMPTS):
            try:
                with transaction.atomic():
                    return cls.objects.create(
                        number=cls.current_number() + 1,
                        user=user if user is not None and user.is_authenticated else None,
                        username=user.get_username() if user is not None and user.is_authenticated else "",
                        action=action,
                        object_type=object_type[:100],
                        object_repr=object_repr[:200],
                        object_model=object_model,
                        object_id=object_id,
                        message=message,
                        reverted=reverted,
                    )
            except IntegrityError:
                if attempt + 1 == VERSION_ATTEMPTS:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")


class KnowledgeBaseChange(models.Model):
    """One record as a version changed it: every changed field with its value before and after.

    Values are stored as the database holds them (ids for foreign keys, lists of ids for many-to-many
    fields) so that a version can be reverted, with their text as the admin showed it beside them.
    """

    class Action(models.TextChoices):
        ADDED = "added", "Added"
        CHANGED = "changed", "Changed"
        DELETED = "deleted", "Deleted"

    version = models.ForeignKey(KnowledgeBaseVersion, on_delete=models.CASCADE, related_name="changes")
    model = models.CharField(max_length=100, help_text="The record's model name, e.g. “rating”.")
    object_id = models.PositiveIntegerField()
    object_repr = models.CharField("object", max_length=200)
    action = models.CharField(max_length=10, choices=Action)
    fields = models.JSONField(
        default=list,
        help_text="One entry per field: name, label, old and new value, and their text.",
    )

    class Meta:
        ordering = ["version", "id"]
        indexes = [models.Index(fields=["model", "object_id"], name="kb_change_record")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.object_repr}"


class Assessment(models.Model):
    """One person's walk through the wizard: the answers as given, saved at every step.

    The random UUID is the only key to it, so its URL resumes it from any
    browser and cannot be guessed.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    answers = models.JSONField(
        default=dict, blank=True, help_text="Question slug to the chosen option slugs."
    )
    profile = models.ForeignKey(
        UseCaseProfile,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assessments",
        help_text="The use case whose answers it started from, if any.",
    )

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"Assessment {str(self.id)[:8]} of {self.created_at:%Y-%m-%d}"

    def answer_map(self) -> dict[str, tuple[str, ...]]:
        return {question: tuple(options) for question, options in self.answers.items()}


class Report(models.Model):
    """A recommendation as it was issued: answers, engine output and knowledge-base version, frozen.

    Nothing here refers to the live knowledge base, so later admin edits never
    change what an issued report says.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    assessment = models.ForeignKey(Assessment, on_delete=models.SET_NULL, null=True, related_name="reports")
    previous = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reevaluations",
        help_text="The report this one re-evaluated with a newer knowledge base.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    title = models.CharField(
        max_length=120, blank=True, help_text="Optional, typed by the user; shown on the cover."
    )
    organisation = models.CharField(max_length=120, blank=True)
    knowledge_base_version = models.PositiveIntegerField()
    answers = models.JSONField(help_text="The answers as the user saw them: question and option text.")
    result = models.JSONField(help_text="The engine's full output.")
    disagreements = models.JSONField(default=list, blank=True, help_text="Where sources disagree, as issued.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.title or 'Report'} {str(self.id)[:8]}: {self.primary_name}"

    @property
    def primary_name(self) -> str:
        """The design in a few words: one protocol, or the protocols of its parts and layers."""
        if "parts" not in self.result:
            return (self.result.get("primary") or {}).get("name", "no protocol")
        names = [layer["protocol"]["name"] for part in self.result["parts"] for layer in part["layers"]]
        return " + ".join(dict.fromkeys(names)) or "no protocol"

    def answer_map(self) -> dict[str, tuple[str, ...]]:
        return {row["question"]: tuple(option["slug"] for option in row["options"]) for row in self.answers}


class ReportPDF(models.Model):
    """A report rendered to PDF once per paper size and kept, so downloads are served from storage."""

    class Paper(models.TextChoices):
        A4 = "a4", "A4"
        LETTER = "letter", "US Letter"

    class Status(models.TextChoices):
        PENDING = "pending", "Being rendered"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="pdfs")
    paper = models.CharField(max_length=10, choices=Paper, default=Paper.A4)
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    requested_at = models.DateTimeField(auto_now_add=True)
    file = models.FileField(upload_to="reports/%Y/%m/", blank=True)
    error = models.TextField(blank=True)
    rendered_at = models.DateTimeField(null=True, blank=True)
    render_ms = models.PositiveIntegerField(null=True, blank=True)
    pages = models.PositiveSmallIntegerField(null=True, blank=True)
    size = models.PositiveIntegerField("bytes", null=True, blank=True)
    # How renders share the work (advisor/tasks.py): a render first claims the row with a lease that it
    # renews while it runs, and stores its PDF only while it still holds that lease. A lease that runs
    # out means the render died; the next request, task or watchdog queues it again.
    permalink = models.TextField(blank=True, help_text="The report's address printed in the PDF.")
    task_id = models.CharField(max_length=64, blank=True, help_text="The queued task that is to render it.")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Renders begun (claims of the lease).")
    lease_token = models.CharField(max_length=32, blank=True, help_text="The render holding the lease.")
    lease_until = models.DateTimeField(null=True, blank=True, help_text="When that lease runs out.")

    class Meta:
        ordering = ["-rendered_at"]
        verbose_name = "report PDF"
        constraints = [
            models.UniqueConstraint(fields=["report", "paper"], name="one_pdf_per_report_and_paper")
        ]

    def __str__(self) -> str:
        return f"{self.report} ({self.get_paper_display()}, {self.get_status_display().lower()})"

    @staticmethod
    def lease_length() -> timedelta:
        """How long a render's claim lasts unless renewed: a render killed mid-way is taken up after this."""
        return timedelta(seconds=getattr(settings, "PDF_RENDER_LEASE_SECONDS", 30))

    @property
    def stalled(self) -> bool:
        """Pending, and no render is under way or on its way: offer to render it again.

        Either the render that claimed it stopped renewing its lease (its process died), or none has
        claimed it: no task was queued for it (its request died first, or it predates leases) a lease's
        length after it was asked for, or the queued task has waited PDF_RENDER_TIMEOUT (no worker runs).
        """
        if self.status != self.Status.PENDING:
            return False
        now = timezone.now()
        if self.lease_until is not None:
            return self.lease_until < now
        waited = now - self.requested_at
        return waited > PDF_RENDER_TIMEOUT or (not self.task_id and waited > self.lease_length())


class Feedback(models.Model):
    """“Was this right?” under a report: where maintainers learn that the knowledge base is wrong."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="feedback")
    agrees = models.BooleanField("agrees with the recommendation")
    comment = models.TextField(blank=True, max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "feedback"

    def __str__(self) -> str:
        return f"{'Agrees' if self.agrees else 'Disagrees'} with {self.report.primary_name}"


class SourceDisagreement(SlugKeyed):
    """Where the cited sources do not say the same thing; reports show it when it bears on the advice."""

    topic = models.CharField(max_length=120)
    summary = models.TextField(
        help_text="Each side's position, in plain words, and what it means in practice."
    )
    protocols = models.ManyToManyField(
        Protocol, related_name="disagreements", help_text="Shown when the report recommends one of these."
    )
    flows = models.ManyToManyField(
        Flow,
        blank=True,
        related_name="disagreements",
        help_text="Shown only for parts of a design protecting one of these flows; none means any.",
    )
    references = models.ManyToManyField(Reference, related_name="disagreements")

    class Meta:
        ordering = ["topic"]

    def __str__(self) -> str:
        return self.topic

    def natural_key(self) -> tuple[str]:
        return super().natural_key()

    natural_key.dependencies = ["advisor.protocol", "advisor.flow", "advisor.reference"]  # type: ignore[attr-defined]


KNOWLEDGE_BASE_MODELS = (
    Reference,
    Protocol,
    Flow,
    Criterion,
    Rating,
    Question,
    Option,
    OptionEffect,
    UseCaseProfile,
    ProfileAnswer,
    ConsistencyRule,
    SourceDisagreement,
    Guidance,
    GuidanceSource,
)
