"""A PostgreSQL server's address as the config gives it, shown everywhere without its password."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")


def is_url(value: str) -> bool:
    """Whether ``database`` names a server (a URL) rather than an SQLite file."""
    return value.split("://", 1)[0].lower() in SCHEMES and "://" in value


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """``postgresql://user:password@host:port/name``: the PostgreSQL store's database.

    ``str()`` and ``repr()`` hide the password, so an error, a log line or a settings dump
    never shows it; only the driver is handed ``url``."""

    url: str

    @classmethod
    def parse(cls, value: str) -> DatabaseUrl:
        """Raises ValueError saying what is wrong with ``value`` (shown without a password)."""
        try:
            parts = urlsplit(value)
            port = parts.port  # raises on a port that is no number or out of range
        except ValueError as exc:
            raise ValueError(f"not a valid PostgreSQL URL ({exc})") from None
        if parts.scheme.lower() not in SCHEMES:
            raise ValueError("a PostgreSQL URL starts with postgresql://")
        if not parts.path.strip("/"):
            raise ValueError("a PostgreSQL URL names its database: postgresql://HOST/DATABASE")
        del port
        return cls(value)

    def __str__(self) -> str:
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))

    def __repr__(self) -> str:
        return f"DatabaseUrl({str(self)!r})"
