"""The queue store: the Store protocol, its records, and the SQLite implementation."""

from bot.store.base import NewMessage, Store
from bot.store.models import (
    AuditEntry,
    Delivery,
    DigestRecord,
    OutboxMessage,
    Outcome,
    QueueItem,
    QueueQuery,
    ReviewPost,
    Selection,
    Status,
    StoredSchedule,
)
from bot.store.sqlite import SQLiteStore

__all__ = [
    "AuditEntry",
    "Delivery",
    "DigestRecord",
    "NewMessage",
    "OutboxMessage",
    "Outcome",
    "QueueItem",
    "QueueQuery",
    "ReviewPost",
    "SQLiteStore",
    "Selection",
    "Status",
    "Store",
    "StoredSchedule",
]
