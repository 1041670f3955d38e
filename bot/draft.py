"""Draft digests (``review: draft``): moderators approve the issue, not every clipping.

At ``draft_lead`` before a scheduled run the scheduler asks ``Drafts.prepare`` for that run's
draft: the digest planned from the queue as it stands, recorded in the store and shown in the
review channel through a ``DraftShow`` (the Discord adapter). Moderators drop items, approve,
skip or refresh; every decision names the draft ``version`` it was made on and the store
applies it only to that version, so two moderators clicking at once get one outcome and the
other is told what happened. At the run's time the scheduler posts the draft's kept items
(``DraftRecord.kept``), or holds or posts as planned when nobody decided (``unreviewed``).
Everything lives in the store, so a restart between draft and run changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.clock import Clock
from bot.config import Settings
from bot.plan import DigestPlan, plan_digest
from bot.render import Renderer
from bot.review import display_actor
from bot.store import DraftRecord, DraftState, Store

__all__ = ["DraftAction", "DraftConflict", "DraftShow", "Drafts", "describe_draft"]

log = logging.getLogger(__name__)


class DraftAction(StrEnum):
    APPROVE = "approve"
    SKIP = "skip"
    REFRESH = "refresh"
    DROP = "drop"


class DraftConflict(Exception):
    """The decision was made on an older view of the draft; ``current`` is where it is now."""

    def __init__(self, current: DraftRecord | None) -> None:
        super().__init__("the draft changed before this decision")
        self.current = current


class DraftShow(Protocol):
    """Shows a draft to moderators (the review channel, in the Discord adapter)."""

    async def show(self, draft: DraftRecord, plan: DigestPlan) -> None: ...


@dataclass(frozen=True, slots=True)
class Decided:
    draft: DraftRecord
    plan: DigestPlan
    """The draft's messages as they stand after the decision (kept items only)."""


def describe_draft(draft: DraftRecord) -> str:
    """One line for moderators: what the draft holds and what became of it."""
    kept, dropped = len(draft.kept), len(draft.dropped)
    holds = f"{kept} item{'s' if kept != 1 else ''}" + (f" ({dropped} dropped)" if dropped else "")
    by = f" by {display_actor(draft.decided_by)}" if draft.decided_by else ""
    return {
        DraftState.WAITING: f"waiting for approval: {holds}",
        DraftState.APPROVED: f"approved{by}: {holds}",
        DraftState.SKIPPED: f"skipped{by}: nothing is posted, the items wait for the next run",
        DraftState.POSTED: f"posted: {holds}",
        DraftState.EXPIRED: "not approved in time: nothing was posted",
    }[draft.state]


class Drafts:
    """Makes, shows and decides draft digests; the scheduler and the adapter share it."""

    def __init__(self, store: Store, renderer: Renderer, clock: Clock, settings: Settings) -> None:
        self.store = store
        self.renderer = renderer
        self.clock = clock
        self.settings = settings
        self.shower: DraftShow | None = None
        """Set by the Discord adapter; without it drafts are recorded but not shown."""

    async def plan(self, draft: DraftRecord) -> DigestPlan:
        """The messages the draft's run would post now: its kept items, as they render."""
        return await plan_digest(
            self.store,
            self.renderer,
            self.settings.digest_for(draft.channel_id),
            self.clock.now(),
            only=draft.kept,
        )

    async def prepare(self, channel: int, run_at: datetime) -> DraftRecord:
        """The draft of the run, made and shown now if it does not exist yet (safe to call on
        every pass: an existing draft is returned as it is, and shown again only if it never
        was, e.g. the process stopped between recording and showing it)."""
        draft = await self.store.draft_for(channel, run_at)
        if draft is None:
            plan = await plan_digest(
                self.store, self.renderer, self.settings.digest_for(channel), self.clock.now()
            )
            draft, created = await self.store.create_draft(
                channel, run_at, [item.id for item in plan.items]
            )
            if created:
                log.info(
                    "channel %d: draft %d for the run at %s: %d items",
                    channel,
                    draft.id,
                    run_at.isoformat(),
                    len(draft.item_ids),
                )
        if draft.control_message_id is None and draft.state is DraftState.WAITING:
            await self._show(draft)
        return draft

    async def decide(
        self,
        draft_id: int,
        version: int,
        action: DraftAction,
        *,
        actor: str,
        dropped: tuple[int, ...] = (),
    ) -> Decided:
        """Apply a moderator's decision made on ``version``; raises ``DraftConflict`` when the
        draft moved on (another moderator, the run itself) or is no longer open."""
        current = await self.store.get_draft(draft_id)
        if current is None or current.version != version or current.state is not DraftState.WAITING:
            raise DraftConflict(current)
        changed: DraftRecord | None
        if action is DraftAction.REFRESH:
            plan = await plan_digest(
                self.store,
                self.renderer,
                self.settings.digest_for(current.channel_id),
                self.clock.now(),
            )
            changed = await self.store.change_draft(
                draft_id, version, item_ids=[item.id for item in plan.items], dropped=()
            )
        elif action is DraftAction.DROP:
            keep = set(current.item_ids)
            changed = await self.store.change_draft(
                draft_id, version, dropped=[i for i in dropped if i in keep]
            )
        else:
            state = DraftState.APPROVED if action is DraftAction.APPROVE else DraftState.SKIPPED
            changed = await self.store.change_draft(draft_id, version, state=state, actor=actor)
        if changed is None:
            raise DraftConflict(await self.store.get_draft(draft_id))
        log.info("draft %d: %s by %s (%s)", draft_id, action, actor, describe_draft(changed))
        plan = await self.plan(changed)
        if action is DraftAction.REFRESH:
            await self._show(changed, plan)
        return Decided(changed, plan)

    async def settle(self, draft: DraftRecord, state: DraftState) -> DraftRecord:
        """The scheduler's own last word on a draft (posted, expired); it wins over a decision
        made at the same moment, since the run has happened either way."""
        while True:
            changed = await self.store.change_draft(draft.id, draft.version, state=state)
            if changed is not None:
                return changed
            again = await self.store.get_draft(draft.id)
            if again is None:
                return draft
            draft = again

    async def _show(self, draft: DraftRecord, plan: DigestPlan | None = None) -> None:
        if self.shower is None:
            return
        await self.shower.show(draft, plan or await self.plan(draft))
