"""The queue store: the Store protocol, its records, and the SQLite implementation."""

from bot.store.base import NewMessage, Store
from bot.store.models import (
    Approval,
    AuditEntry,
    Delivery,
    DigestRecord,
    DigestStatus,
    FeedState,
    OutboxMessage,
    Outcome,
    QueueItem,
    QueueQuery,
    ReviewPost,
    RunOutcome,
    Selection,
    Status,
    StoredFeed,
    StoredSchedule,
    Trigger,
)
from bot.store.sqlite import SQLiteStore

__all__ = [
    "Approval",
    "AuditEntry",
    "Delivery",
    "DigestRecord",
    "DigestStatus",
    "FeedState",
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
    "StoredFeed",
    "StoredSchedule",
    "Trigger",
]
