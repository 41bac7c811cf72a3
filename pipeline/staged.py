"""Reading the staging tree (``build/``): a staged document with its
:mod:`pipeline.layout` reader, an unreadable one reported with the file and the
command that writes it again."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, TypeVar

from .errors import DangkeError

T = TypeVar("T")

FIXES = {"schedule": "run `dangke schedule --date DATE --force` for that day",
         "manifest": "run `dangke plan --quarter QUARTER` again",
         "diff": "run `dangke plan --quarter QUARTER` again"}


def read_staged(reader: Callable[[bytes], T], path: Path) -> T:
    """The staged document at ``path`` read with ``reader`` (a layout reader).

    Raises:
        DangkeError: the file cannot be read or is not that document (it names the file).
    """
    kind = getattr(reader, "document", "document")
    try:
        return reader(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise DangkeError(f"the staged {kind} cannot be read: {exc}", path=path,
                          fix=FIXES.get(kind, "plan or schedule again")) from exc
