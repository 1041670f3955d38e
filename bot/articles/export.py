"""Write queue items back as front-matter files (``newsbot export``).

Each file is the article as it was read (same fields, unknown ones included, same body), with
``published: true`` added once the queue has published it, so ingesting an export into a fresh
database gives the same articles and never re-posts what is already out.

An export is all or nothing: the files are written into a hidden staging folder inside the
destination and moved into place only once every one of them was written, so a full disk or a
refused path leaves the destination as it was (and no folder that the export created).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bot.articles.frontmatter import export_text
from bot.errors import PathError
from bot.store import QueueItem, Status

_NOTHING = "nothing was written"


def _slug(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:60].rstrip("-") or "article"


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def check_export_folder(folder: Path) -> None:
    """Refuse a destination that can never be an export folder (an existing file, a path
    through a file), before the database is even opened."""
    for path in (folder, *folder.parents):
        try:
            info = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            continue  # to be created, or a parent is a file: said below
        except OSError as exc:  # a name too long, a folder we may not look into
            raise PathError(
                str(folder), f"cannot use this path ({_reason(exc)}); {_NOTHING}"
            ) from None
        if not stat.S_ISDIR(info.st_mode):
            what = "exists and" if path == folder else str(path)
            raise PathError(str(folder), f"{what} is not a folder; {_NOTHING}")
        return


def _make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the ones created, outermost first."""
    missing = []
    for path in (folder, *folder.parents):
        if path.is_dir():  # check_export_folder has made sure nothing here raises
            break
        missing.append(path)
    missing.reverse()
    try:
        for path in missing:
            path.mkdir()
    except OSError as exc:
        _remove_folders(missing)
        raise PathError(
            str(folder), f"cannot create the folder ({_reason(exc)}); {_NOTHING}"
        ) from None
    return missing


def _remove_folders(created: Sequence[Path]) -> None:
    for path in reversed(created):
        with contextlib.suppress(OSError):  # not empty: someone else's now
            path.rmdir()


def write_export(folder: Path, items: Sequence[QueueItem]) -> list[Path]:
    """Write one file per item into ``folder`` (created if missing; files of the same name
    replaced, others left alone); raises :class:`PathError` with nothing written."""
    check_export_folder(folder)
    created = _make_folder(folder)
    try:
        staging = Path(tempfile.mkdtemp(prefix=".newsbot-export-", dir=folder))
    except OSError as exc:
        _remove_folders(created)
        raise PathError(str(folder), f"cannot write here ({_reason(exc)}); {_NOTHING}") from None
    try:
        names = []
        for item in items:
            name = f"{item.id:05d}-{_slug(item.article.title)}.md"
            if (folder / name).is_dir():
                raise PathError(str(folder / name), f"is a folder; {_NOTHING}")
            text = export_text(item.article, published=item.status is Status.PUBLISHED)
            try:
                (staging / name).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise PathError(
                    str(folder), f"cannot write {name} ({_reason(exc)}); {_NOTHING}"
                ) from None
            names.append(name)
        # Renames within one folder's file system: each is atomic and cannot run out of space.
        for name in names:
            os.replace(staging / name, folder / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_folders(created)
        raise
    staging.rmdir()
    return [folder / name for name in names]
