"""The choices a digest channel's keys offer (``crosspost``, ``review``, ``unreviewed``,
``corrections``, ``retraction``); ``bot.config`` reads them and re-exports them."""

from __future__ import annotations

from enum import StrEnum


class Crosspost(StrEnum):
    """Which parts of a digest in an announcement channel are published to following servers."""

    OFF = "off"
    FIRST = "first"
    ALL = "all"


class Corrections(StrEnum):
    """Whether a channel's posted messages are edited when an item in them changes."""

    EDIT = "edit"
    OFF = "off"


class Retraction(StrEnum):
    """How a retracted item shows in the messages that carry it."""

    STRIKE = "strike"
    REMOVE = "remove"


class DraftReview(StrEnum):
    """Whether moderators approve a scheduled digest itself before it is posted."""

    NONE = "none"
    DRAFT = "draft"


class Unreviewed(StrEnum):
    """What a scheduled run whose draft nobody approved does at its time."""

    HOLD = "hold"
    POST = "post"
