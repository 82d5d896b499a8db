"""Every change to the knowledge base becomes a numbered version that records its values.

A version lists each record it touched with the old and new value of every
changed field, so the history can say "Score: 3 → 2" and a version can be
reverted. Model signals see every save, delete and many-to-many change:

- admin views collect what one action changed (the form, its inlines, what a
  delete cascades to) and record it as one version with the admin's message;
- changes made anywhere else (a shell, a data migration) are recorded at once,
  one version per change, so no edit can slip past the version number that
  reports and the engine's cache rely on;
- fixture loads (raw saves) are recorded by the command that loads them.

Reverting a version undoes its changes: changed fields get their old values,
added records are deleted, deleted records come back with their ids. It is
refused, with the reason, when a later change touched the same fields or
records since, or when a record it needs is gone; the revert is itself a new
version that records what it changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.utils.text import capfirst

from advisor.models import KNOWLEDGE_BASE_MODELS, KnowledgeBaseChange, KnowledgeBaseVersion

APP_LABEL = "advisor"
NO_VALUE = "—"
"""How an empty value reads in the history."""

_recorded_elsewhere: ContextVar[bool] = ContextVar("knowledge_base_change_recorded_elsewhere", default=False)
_collection: ContextVar[dict | None] = ContextVar("knowledge_base_changes_collected", default=None)


@contextmanager
def recorded_elsewhere() -> Iterator[None]:
    """Inside this block changes are not recorded at all: fixture loads, previews that are rolled back."""
    token = _recorded_elsewhere.set(True)
    try:
        yield
    finally:
        _recorded_elsewhere.reset(token)


@contextmanager
def collecting() -> Iterator[dict]:
    """Inside this block changes are gathered for `record` instead of becoming a version each."""
    collection: dict = {}
    token = _collection.set(collection)
    try:
        yield collection
    finally:
        _collection.reset(token)


# --- What a record holds --------------------------------------------------------------------------


def tracked_fields(model) -> list[models.Field]:
    """The fields a version records: every column but the id, and many-to-many fields the model owns."""
    concrete = [f for f in model._meta.concrete_fields if not f.primary_key]
    related = [f for f in model._meta.local_many_to_many if f.remote_field.through._meta.auto_created]
    return concrete + related


def _column_values(instance) -> dict:
    return {f.name: getattr(instance, f.attname) for f in tracked_fields(type(instance)) if f.concrete}


def _related_ids(instance, name: str) -> list[int]:
    return sorted(getattr(instance, name).values_list("pk", flat=True))


def _all_values(instance) -> dict:
    values = _column_values(instance)
    for f in tracked_fields(type(instance)):
        if f.many_to_many:
            values[f.name] = _related_ids(instance, f.name)
    return values


def value_text(model, name: str, value, known: dict | None = None) -> str:
    """A stored value as a maintainer reads it: names for ids, labels for choices.

    `known` names records by (model name, id) that are gone from the database: deleted by the
    same action.
    """
    f = model._meta.get_field(name)
    if value is None or value == "" or value == []:
        return NO_VALUE
    if f.is_relation:
        ids = value if f.many_to_many else [value]
        related = f.related_model
        found = {obj.pk: str(obj) for obj in related._base_manager.filter(pk__in=ids)}
        for pk in ids:
            found.setdefault(pk, (known or {}).get((related._meta.model_name, pk), f"#{pk} (deleted)"))
        return "; ".join(found[pk] for pk in ids)
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# --- Gathering changes ----------------------------------------------------------------------------


def _note(instance, action: str, old: dict, new: dict) -> None:
    """Add one record's change to the collection, or record it at once when nothing is collecting."""
    key = (type(instance)._meta.model_name, instance.pk)
    collection = _collection.get()
    if collection is not None:
        _gather_into(collection, key, instance, action, old, new)
        return
    alone: dict = {}
    _gather_into(alone, key, instance, action, old, new)
    _record_collected(
        alone,
        action,
        None,
        subject=_subject(instance),
        message=f"{KnowledgeBaseVersion.Action(action).label} outside the admin.",
    )


def _gather_into(collection: dict, key, instance, action: str, old: dict, new: dict) -> None:
    entry = collection.get(key)
    if entry is None:
        collection[key] = {
            "model": key[0],
            "pk": key[1],
            "repr": str(instance),
            "action": action,
            "old": old,
            "new": new,
        }
        return
    if entry["action"] == KnowledgeBaseChange.Action.ADDED and action == KnowledgeBaseChange.Action.DELETED:
        del collection[key]
        return
    for name, value in old.items():
        entry["old"].setdefault(name, value)
    if action == KnowledgeBaseChange.Action.DELETED:
        entry["action"], entry["new"] = action, {}
    else:
        entry["new"].update(new)
        entry["repr"] = str(instance)


def _on_pre_save(sender, instance, raw: bool = False, **kwargs) -> None:
    if raw or _recorded_elsewhere.get() or instance.pk is None:
        instance._kb_before = None
        return
    names = [f.attname for f in tracked_fields(sender) if f.concrete]
    row = sender._base_manager.filter(pk=instance.pk).values(*names).first()
    by_attname = {f.attname: f.name for f in tracked_fields(sender) if f.concrete}
    instance._kb_before = None if row is None else {by_attname[a]: v for a, v in row.items()}


def _on_post_save(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    if raw or _recorded_elsewhere.get():
        return
    before = getattr(instance, "_kb_before", None)
    now = _column_values(instance)
    if created or before is None:
        for f in tracked_fields(sender):
            if f.many_to_many:
                now[f.name] = []
        _note(instance, KnowledgeBaseChange.Action.ADDED, {}, now)
        return
    changed = [name for name, value in now.items() if before.get(name) != value]
    if changed:
        _note(
            instance,
            KnowledgeBaseChange.Action.CHANGED,
            {name: before[name] for name in changed},
            {name: now[name] for name in changed},
        )


def _on_pre_delete(sender, instance, **kwargs) -> None:
    if not _recorded_elsewhere.get():
        instance._kb_before_delete = _all_values(instance)


def _on_post_delete(sender, instance, **kwargs) -> None:
    before = getattr(instance, "_kb_before_delete", None)
    if before is not None and not _recorded_elsewhere.get():
        _note(instance, KnowledgeBaseChange.Action.DELETED, before, {})


_OWNED_M2M: dict = {}
"""Each auto-created many-to-many table, to the model that owns the field and the field's name."""


def _owners(sender, instance, reverse: bool, pk_set) -> list:
    owner_model, name = _OWNED_M2M[sender]
    if not reverse:
        return [instance]
    if pk_set is None:
        return list(owner_model._base_manager.filter(**{name: instance.pk}))
    return list(owner_model._base_manager.filter(pk__in=pk_set))


def _on_m2m_changed(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    if _recorded_elsewhere.get() or instance.pk is None:
        return
    _, name = _OWNED_M2M[sender]
    stash = instance.__dict__.setdefault("_kb_m2m_before", {})
    if action.startswith("pre_"):
        stash[sender] = [
            (owner, _related_ids(owner, name)) for owner in _owners(sender, instance, reverse, pk_set)
        ]
        return
    for owner, before in stash.pop(sender, []):
        after = _related_ids(owner, name)
        if after != before:
            _note(owner, KnowledgeBaseChange.Action.CHANGED, {name: before}, {name: after})


def connect_signals() -> None:
    for model in KNOWLEDGE_BASE_MODELS:
        label = model.__name__
        pre_save.connect(_on_pre_save, sender=model, dispatch_uid=f"kb-version-pre-save-{label}")
        post_save.connect(_on_post_save, sender=model, dispatch_uid=f"kb-version-save-{label}")
        pre_delete.connect(_on_pre_delete, sender=model, dispatch_uid=f"kb-version-pre-delete-{label}")
        post_delete.connect(_on_post_delete, sender=model, dispatch_uid=f"kb-version-delete-{label}")
        for f in model._meta.local_many_to_many:
            through = f.remote_field.through
            if through is None or not through._meta.auto_created:
                continue
            _OWNED_M2M[through] = (model, f.name)
            m2m_changed.connect(
                _on_m2m_changed, sender=through, dispatch_uid=f"kb-version-m2m-{label}-{f.name}"
            )


# --- Recording a version --------------------------------------------------------------------------


def _subject(obj) -> dict:
    """The record a version is made on, as the version names it."""
    return {
        "object_type": str(obj._meta.verbose_name),
        "object_repr": str(obj),
        "object_model": obj._meta.model_name,
        "object_id": obj.pk,
    }


def record(action: str, *, user, obj, message: str) -> KnowledgeBaseVersion | None:
    """Record what the current collection gathered as one version on `obj`; nothing when nothing changed."""
    collection = _collection.get()
    if not collection:
        return None
    version = _record_collected(collection, action, user, subject=_subject(obj), message=message)
    collection.clear()
    return version


def record_deletion(user, opts, deleted: list[tuple[int, str]]) -> KnowledgeBaseVersion | None:
    """Record an admin deletion of one or more records (ids and names), with all that it cascaded to."""
    collection = _collection.get()
    if not collection:
        return None
    names = ", ".join(name for _, name in deleted)
    subject = {
        "object_type": str(opts.verbose_name if len(deleted) == 1 else opts.verbose_name_plural),
        "object_repr": names,
        "object_model": opts.model_name,
        "object_id": deleted[0][0] if len(deleted) == 1 else None,
    }
    version = _record_collected(
        collection, KnowledgeBaseVersion.Action.DELETED, user, subject=subject, message=f"Deleted {names}."
    )
    collection.clear()
    return version


def _record_collected(
    collection: dict, action: str, user, *, subject: dict, message: str, reverted=None
) -> KnowledgeBaseVersion:
    version = KnowledgeBaseVersion.record(action, user=user, message=message, reverted=reverted, **subject)
    known = {(entry["model"], entry["pk"]): entry["repr"] for entry in collection.values()}
    KnowledgeBaseChange.objects.bulk_create(
        [
            KnowledgeBaseChange(
                version=version,
                model=entry["model"],
                object_id=entry["pk"],
                object_repr=entry["repr"][:200],
                action=entry["action"],
                fields=_field_rows(entry, known),
            )
            for entry in collection.values()
        ]
    )
    return version


def _field_rows(entry: dict, known: dict | None = None) -> list[dict]:
    model = apps.get_model(APP_LABEL, entry["model"])
    rows = []
    for f in tracked_fields(model):
        old, new = entry["old"].get(f.name), entry["new"].get(f.name)
        if f.name not in entry["old"] and f.name not in entry["new"]:
            continue
        if entry["action"] == KnowledgeBaseChange.Action.CHANGED and old == new:
            continue
        rows.append(
            {
                "name": f.name,
                "label": str(capfirst(f.verbose_name)),
                "old": old,
                "new": new,
                "old_text": value_text(model, f.name, old, known),
                "new_text": value_text(model, f.name, new, known),
            }
        )
    return rows


def changes_of(obj) -> models.QuerySet:
    """The versions that changed `obj`, or that were made on its page (its inline rows), newest first."""
    name = obj._meta.model_name
    return (
        KnowledgeBaseVersion.objects.filter(
            models.Q(object_model=name, object_id=obj.pk)
            | models.Q(changes__model=name, changes__object_id=obj.pk)
        )
        .distinct()
        .prefetch_related("changes")
    )


# --- Reverting a version --------------------------------------------------------------------------


@dataclass
class RevertPlan:
    """What reverting a version would do, or why it cannot be done."""

    version: KnowledgeBaseVersion
    problems: list[str] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    """The records the revert would change, as a version would record them."""

    @property
    def possible(self) -> bool:
        return not self.problems


class RevertRefused(Exception):
    """A revert that cannot be done as asked; the message says why."""


def _current(change: KnowledgeBaseChange):
    model = apps.get_model(APP_LABEL, change.model)
    return model, model._base_manager.filter(pk=change.object_id).first()


def _later_version(change: KnowledgeBaseChange) -> str:
    later = (
        KnowledgeBaseChange.objects.filter(
            model=change.model, object_id=change.object_id, version__number__gt=change.version.number
        )
        .select_related("version")
        .order_by("-version__number")
        .first()
    )
    return f" (changed since in v{later.version.number})" if later else ""


def _conflicts(change: KnowledgeBaseChange, restored: set) -> list[str]:
    """Why this record cannot be put back as it was before the version, if it cannot."""
    model, obj = _current(change)
    subject = f"{capfirst(model._meta.verbose_name)} “{change.object_repr}”"
    if change.action == KnowledgeBaseChange.Action.DELETED:
        if obj is not None:
            return [f"{subject} exists again{_later_version(change)}; it cannot be restored over it."]
        return _missing_targets(model, change, restored)
    if obj is None:
        return [f"{subject} no longer exists{_later_version(change)}."]
    now = _all_values(obj)
    problems = []
    for row in change.fields:
        if now.get(row["name"]) != row["new"]:
            problems.append(
                f"{subject}: {row['label'].lower()} is now “{value_text(model, row['name'], now.get(row['name']))}”, "
                f"not “{row['new_text']}” as this version left it{_later_version(change)}."
            )
    if change.action == KnowledgeBaseChange.Action.CHANGED:
        problems += _missing_targets(model, change, restored)
    return problems


def _missing_targets(model, change: KnowledgeBaseChange, restored: set) -> list[str]:
    """Old values that point at records deleted since, and not restored by the same revert."""
    problems = []
    for row in change.fields:
        f = model._meta.get_field(row["name"])
        wanted = row["old"] if f.many_to_many else ([row["old"]] if f.is_relation and row["old"] else [])
        wanted = {pk for pk in wanted if (f.related_model._meta.model_name, pk) not in restored}
        if wanted and f.related_model._base_manager.filter(pk__in=wanted).count() != len(wanted):
            problems.append(
                f"{capfirst(model._meta.verbose_name)} “{change.object_repr}”: {row['label'].lower()} was "
                f"“{row['old_text']}”, and a record it names no longer exists."
            )
    return problems


def _undo(change: KnowledgeBaseChange) -> None:
    model, obj = _current(change)
    if change.action == KnowledgeBaseChange.Action.ADDED:
        obj.delete()
        return
    if change.action == KnowledgeBaseChange.Action.DELETED:
        obj = model(pk=change.object_id)
    related = {}
    for row in change.fields:
        f = model._meta.get_field(row["name"])
        if f.many_to_many:
            related[f.name] = row["old"]
        else:
            setattr(obj, f.attname, row["old"])
    obj.save(force_insert=change.action == KnowledgeBaseChange.Action.DELETED)
    for name, ids in related.items():
        getattr(obj, name).set(ids)


def apply_revert(version: KnowledgeBaseVersion) -> None:
    """Undo the version's changes, the last first, so children go before their parents and come after."""
    for change in sorted(version.changes.all(), key=lambda c: c.pk, reverse=True):
        _undo(change)


def plan_revert(version: KnowledgeBaseVersion) -> RevertPlan:
    """Check that the version can be reverted, and find every record reverting it would change.

    The revert is applied inside a transaction that is rolled back, so the plan includes what
    deletions would cascade to; a cascade onto records the version did not touch is refused.
    """
    plan = RevertPlan(version)
    changes = list(version.changes.all())
    if version.action == KnowledgeBaseVersion.Action.LOADED or not changes:
        plan.problems.append(
            f"v{version.number} records no field values (it was made before values were recorded, or it is a "
            "fixture load); change the records by hand instead."
        )
        return plan
    load = KnowledgeBaseVersion.objects.filter(
        action=KnowledgeBaseVersion.Action.LOADED, number__gt=version.number
    ).first()
    if load is not None:
        plan.problems.append(
            f"The knowledge base was loaded from a fixture since, in v{load.number}: the records v{version.number} "
            "changed were replaced, so it cannot be reverted."
        )
        return plan
    restored = {(c.model, c.object_id) for c in changes if c.action == KnowledgeBaseChange.Action.DELETED}
    for change in changes:
        plan.problems += _conflicts(change, restored)
    if plan.problems:
        return plan
    touched = {(c.model, c.object_id) for c in changes}
    with transaction.atomic():
        with collecting() as collection:
            try:
                apply_revert(version)
            except (IntegrityError, ValidationError) as error:
                plan.problems.append(f"The knowledge base refuses the old values: {error}")
            collected = list(collection.values())
        transaction.set_rollback(True)
    known = {(entry["model"], entry["pk"]): entry["repr"] for entry in collected}
    for entry in collected:
        entry["fields"] = _field_rows(entry, known)
        model = apps.get_model(APP_LABEL, entry["model"])
        entry["type"] = str(capfirst(model._meta.verbose_name))
        if (entry["model"], entry["pk"]) not in touched:
            plan.problems.append(
                f"Reverting would also delete {model._meta.verbose_name} “{entry['repr']}”, which was added or "
                "changed later; delete or change it by hand first."
            )
    plan.changes = collected
    return plan


@transaction.atomic
def revert(version: KnowledgeBaseVersion, user) -> KnowledgeBaseVersion:
    """Undo the version's changes as a new version that records them; refused as `plan_revert` explains."""
    plan = plan_revert(version)
    if not plan.possible:
        raise RevertRefused(" ".join(plan.problems))
    with collecting() as collection:
        apply_revert(version)
        return _record_collected(
            collection,
            KnowledgeBaseVersion.Action.REVERTED,
            user,
            subject={
                "object_type": version.object_type,
                "object_repr": version.object_repr,
                "object_model": version.object_model,
                "object_id": version.object_id,
            },
            message=f"Reverted v{version.number}. {version.message}".strip(),
            reverted=version,
        )
