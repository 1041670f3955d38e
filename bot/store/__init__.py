"""The queue store: the Store protocol, its records, and the SQLite implementation."""

from bot.store.base import NewMessage, Store
from bot.store.models import (
    Approval,
    AuditEntry,
    CrosspostOutcome,
    Delivery,
    DigestRecord,
    DigestStatus,
    OutboxMessage,
    Outcome,
    QueueItem,
    QueueQuery,
    ReviewPost,
    RunOutcome,
    Selection,
    Status,
    StoredSchedule,
    Trigger,
    WaitingCrosspost,
)
from bot.store.sqlite import SQLiteStore

__all__ = [
    "Approval",
    "AuditEntry",
    "CrosspostOutcome",
    "Delivery",
    "DigestRecord",
    "DigestStatus",
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
    "Trigger",
    "WaitingCrosspost",
]
