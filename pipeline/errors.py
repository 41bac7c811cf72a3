"""The one error hierarchy of dangke.

Every error carries the file it is about (when there is one) and what a person should do.
Only :mod:`pipeline.cli` turns them into messages; the core never prints.
"""

from __future__ import annotations


class DangkeError(Exception):
    """Base of all dangke errors.

    Args:
        message: what is wrong, in plain words.
        path: the file or folder concerned, if any.
        fix: what to do about it, in plain words.
    """

    def __init__(self, message: str, *, path: object = None, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)
        self.fix = fix

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        fix = f" ({self.fix})" if self.fix else ""
        return f"{where}{self.message}{fix}"


class ConfigError(DangkeError):
    """The configuration file or the fleet registry is invalid (exit status 2)."""


class UsageError(DangkeError):
    """A command was called with bad arguments (exit status 2)."""


class InputRejected(DangkeError):
    """An inbox file cannot become a lesson; it goes to ``rejected/`` with this reason.

    Args:
        message: English reason.
        message_zh: the same reason in Chinese, for the editors.
        fix / fix_zh: what the editor should do, in English and Chinese.
    """

    def __init__(self, message: str, *, message_zh: str, path: object = None,
                 fix: str = "", fix_zh: str = "") -> None:
        super().__init__(message, path=path, fix=fix)
        self.message_zh = message_zh
        self.fix_zh = fix_zh


class ToolError(DangkeError):
    """An external tool (ffmpeg, ffprobe) failed or timed out."""


class StoreError(DangkeError):
    """The publish target could not be read or written."""


class ToolInterrupted(ToolError):
    """An external tool was stopped by a signal (Ctrl-C, kill, out of memory): nothing is
    known about the file, so it is tried again rather than rejected."""
