"""Every change to the knowledge base becomes a numbered version.

Admin actions are recorded once per action with the admin's own change
message and user. Changes made anywhere else (a shell, a data migration) are
caught by model signals, so no edit can slip past the version number that
reports and the engine's cache rely on. Fixture loads (raw saves) are
recorded by the command that loads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db.models.signals import m2m_changed, post_delete, post_save

from advisor.models import KNOWLEDGE_BASE_MODELS, KnowledgeBaseVersion

_recorded_elsewhere: ContextVar[bool] = ContextVar("knowledge_base_change_recorded_elsewhere", default=False)


@contextmanager
def recorded_elsewhere() -> Iterator[None]:
    """Inside this block the caller records the version itself (admin views, fixture loads)."""
    token = _recorded_elsewhere.set(True)
    try:
        yield
    finally:
        _recorded_elsewhere.reset(token)


def _record(action: str, instance) -> None:
    KnowledgeBaseVersion.record(
        action,
        object_type=instance._meta.verbose_name,
        object_repr=str(instance),
        message=f"{KnowledgeBaseVersion.Action(action).label} outside the admin.",
    )


def _on_save(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    if raw or _recorded_elsewhere.get():
        return
    _record(KnowledgeBaseVersion.Action.ADDED if created else KnowledgeBaseVersion.Action.CHANGED, instance)


def _on_delete(sender, instance, **kwargs) -> None:
    if not _recorded_elsewhere.get():
        _record(KnowledgeBaseVersion.Action.DELETED, instance)


def _on_m2m_changed(sender, instance, action: str, **kwargs) -> None:
    if action.startswith("post_") and not _recorded_elsewhere.get():
        _record(KnowledgeBaseVersion.Action.CHANGED, instance)


def connect_signals() -> None:
    for model in KNOWLEDGE_BASE_MODELS:
        post_save.connect(_on_save, sender=model, dispatch_uid=f"kb-version-save-{model.__name__}")
        post_delete.connect(_on_delete, sender=model, dispatch_uid=f"kb-version-delete-{model.__name__}")
        for field in model._meta.local_many_to_many:
            m2m_changed.connect(
                _on_m2m_changed,
                sender=field.remote_field.through,
                dispatch_uid=f"kb-version-m2m-{model.__name__}-{field.name}",
            )
