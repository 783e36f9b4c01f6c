"""Writing files so that no reader ever sees one half-written."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a new file beside ``path`` and rename it into place.

    The temporary file is opened exclusively (like ``tempfile.mkstemp``) but with the
    usual permissions, so files stay readable as the umask allows.
    """
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "x", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def expand_globs(arguments: list[str] | tuple[str, ...]) -> list[str]:
    """Arguments with quoted glob patterns (``'runs/*'``) expanded in sorted order; an
    argument that matches nothing, or is no pattern, is kept as given. Repeats are dropped."""
    import glob

    out: list[str] = []
    for argument in arguments:
        matches = sorted(glob.glob(argument)) if glob.has_magic(argument) else []
        out.extend(matches or [argument])
    return list(dict.fromkeys(out))
