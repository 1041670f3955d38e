"""Typed errors raised by the core.

The core never formats replies for Discord or the shell; it raises one of these with enough
context (what and where) for the CLI and the Discord adapter to say something useful.
"""

from __future__ import annotations


class NewsbotError(Exception):
    """Base of every error the core raises on purpose (as opposed to bugs)."""


def one_line(text: str) -> str:
    """``text`` as one printable line: newlines, terminal escape sequences, bidi controls and
    other non-printable characters become Python escapes (``\\n``, ``\\x1b``, ``\\u202e``).

    File names and YAML messages come from outside; printed raw, a newline in a file name would
    split one error into two lines and an escape sequence would drive the operator's terminal.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


class ArticleError(NewsbotError):
    """A problem with one article file, located as ``PATH:LINE``.

    The message is always one printable line (see :func:`one_line`); ``path`` and ``problem``
    keep the text as given.
    """

    def __init__(self, path: str, line: int, problem: str) -> None:
        super().__init__(f"{one_line(path)}:{line}: {one_line(problem)}")
        self.path = path
        self.line = line
        self.problem = problem


class ConfigError(NewsbotError):
    """The config file or environment is invalid; the message names the file and key."""


class NotFound(NewsbotError):
    """A queue item (or other record) the caller named does not exist."""

    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"{what} {key} not found")
        self.what = what
        self.key = key


class InvalidTransition(NewsbotError):
    """A moderation change that the item's current state does not allow."""

    def __init__(self, article_id: int, current: str, wanted: str) -> None:
        super().__init__(f"item {article_id} is {current}; it cannot become {wanted}")
        self.article_id = article_id
        self.current = current
        self.wanted = wanted


class PermissionDenied(NewsbotError):
    """The acting user may not do this; nothing was changed."""


class TemplateProblem(NewsbotError):
    """A template failed to load or render; the message names the template file and line."""

    def __init__(self, template: str, line: int | None, problem: str) -> None:
        where = f"{template}:{line}" if line else template
        super().__init__(f"{where}: {problem}")
        self.template = template
        self.line = line
        self.problem = problem


class StoreError(NewsbotError):
    """The database cannot be used (locked, read-only, full); nothing was half-written.

    ``reason`` is the problem alone; the message adds that nothing was changed unless the
    caller says otherwise (an ingest that stored earlier batches)."""

    def __init__(self, reason: str, *, unchanged: bool = True) -> None:
        super().__init__(f"{reason}; nothing was changed" if unchanged else reason)
        self.reason = reason


class PublishError(NewsbotError):
    """A digest could not be delivered; its items stay queued."""


class LeaseLost(PublishError):
    """Another newsbot process took over publishing the channel (this one's lease expired):
    what this one sends is no longer recorded; the other finishes the digest."""

    def __init__(self, channel_id: int) -> None:
        super().__init__(f"channel {channel_id}: another newsbot process took over its digest")
        self.channel_id = channel_id


class DeliveryError(PublishError):
    """Discord refused or failed a message. ``permanent`` errors (4xx: missing access, unknown
    channel, invalid body) stop the digest; the others are retried."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status: int | None = None,
        code: int | None = None,
        retry_after: float | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.fix = fix
        """What the moderators should change, when the error code alone does not say it."""
        self.status = status
        self.code = code
        self.retry_after = retry_after
        """Seconds Discord asked to wait (a 429), when it said."""


class StartupError(NewsbotError):
    """newsbot cannot work with Discord as configured: Discord unreachable, a channel the bot
    cannot use, nothing to publish to. The message says what to fix; the CLI prints it."""


class LoginFailed(StartupError):
    """The bot's token is missing or Discord refused it."""


class PathError(NewsbotError):
    """A file or folder newsbot was asked to write cannot be written (it exists and is the
    wrong kind, or the system refuses it); nothing was written there."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{one_line(path)}: {problem}")
        self.path = path
        self.problem = problem


class OptionTooLong(NewsbotError):
    """A command option too long to carry in a component's custom id (100 characters)."""


class FeedError(NewsbotError):
    """A feed cannot be added or removed as asked (a bad address, one set in the config
    file); the message says what to do instead. Nothing was changed."""
