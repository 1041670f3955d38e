"""Who may publish a channel: one process at a time, by a lease in the database.

A process takes the channel's lease before it plans or delivers the channel's digests and
renews it with every part; each new holder gets a larger fencing token and a part is recorded
only under the current one (see :meth:`bot.store.Store.record_sent`). So ``newsbot publish``
run beside ``newsbot run`` (or two bots on one database) never post one digest twice.

A lease ends when its holder lets it go, when it expires, or, on the same machine, as soon as
its holder's process is gone: a bot restarted after a crash takes its channels back at once
rather than waiting for the expiry.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta

LEASE_TTL = timedelta(minutes=5)
"""How long a lease holds without renewal: far longer than any wait between two parts."""


def lease_owner() -> str:
    """This process's name as a lease holder: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_is_gone(owner: str) -> bool:
    """Whether the process named ``owner`` ran on this machine and has ended (so its lease
    need not be waited out). A process of another machine is never judged gone."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # another publisher of this very process: it is alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False
