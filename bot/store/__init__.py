"""The queue store: the Store protocol, its records, and the SQLite implementation."""

from bot.store.base import NewMessage, Store
from bot.store.models import (
    Approval,
    AuditEntry,
    Delivery,
    DigestRecord,
    DigestStatus,
    Merge,
    OutboxMessage,
    Outcome,
    QueueItem,
    QueueQuery,
    ReviewPost,
    RunOutcome,
    Selection,
    Status,
    StoredSchedule,
    StoryLead,
    Trigger,
)
from bot.store.sqlite import SQLiteStore

__all__ = [
    "Approval",
    "AuditEntry",
    "Delivery",
    "DigestRecord",
    "DigestStatus",
    "Merge",
    "NewMessage",
    "OutboxMessage",
    "Outcome",
    "QueueItem",
    "QueueQuery",
    "ReviewPost",
    "RunOutcome",
    "SQLiteStore",
    "Selection",
    "Status",
    "Store",
    "StoredSchedule",
    "StoryLead",
    "Trigger",
]
