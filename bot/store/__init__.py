"""The queue store: the Store protocol, its records, and the SQLite implementation."""

from bot.store.base import NewMessage, Store
from bot.store.models import (
    Approval,
    AuditEntry,
    BotMessage,
    Delivery,
    DigestRecord,
    DigestStatus,
    DigestSummary,
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
)
from bot.store.sqlite import SQLiteStore

__all__ = [
    "Approval",
    "AuditEntry",
    "BotMessage",
    "Delivery",
    "DigestRecord",
    "DigestStatus",
    "DigestSummary",
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
]
