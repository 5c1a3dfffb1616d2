"""The endpoint's keys, as an Azure ML endpoint with key auth has them: a primary and a secondary, either
accepted as `Authorization: Bearer <key>`; regenerating one leaves the other valid, so clients rotate
without downtime.

Kept in `<workspace>/endpoint/keys.json`, readable by the owner only (mode 0600; on Windows the file
inherits the user profile's owner-only permissions), outside the record so that `endpoint status`
never shows them. They survive `endpoint stop`: a client's environment variable stays right.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from wth.errors import UsageError

from .record import folder, write_private

KEYS = "keys.json"
KINDS = ("primary", "secondary")


def path(ws) -> Path:
    return folder(ws) / KEYS


def read(ws) -> dict[str, str] | None:
    try:
        keys = json.loads(path(ws).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise UsageError(f"{path(ws)}: unreadable keys file; `wth-solution endpoint keys --regenerate primary` "
                         "writes a new one") from None
    if not isinstance(keys, dict) or not all(isinstance(keys.get(kind), str) and keys[kind] for kind in KINDS):
        raise UsageError(f"{path(ws)}: not a keys file; `wth-solution endpoint keys --regenerate primary` writes one")
    return keys


def ensure(ws) -> dict[str, str]:
    """The keys, made on first use."""
    keys = read(ws)
    if keys is None:
        keys = {kind: secrets.token_urlsafe(32) for kind in KINDS}
        write_private(path(ws), json.dumps(keys, indent=2))
    return keys


def regenerate(ws, kind: str) -> dict[str, str]:
    if kind not in KINDS:
        raise UsageError(f"--regenerate {kind!r}: choose primary or secondary")
    keys = ensure(ws)
    keys[kind] = secrets.token_urlsafe(32)
    write_private(path(ws), json.dumps(keys, indent=2))
    return keys
