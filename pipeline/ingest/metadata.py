"""Lesson metadata from the three sources editors use, merged by precedence:
sidecar JSON, then the file name, then embedded tags (design.md, "What editors drop").

Pure functions: no file access. Sidecar problems raise :class:`InputRejected` naming the
field and the accepted values.
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import json
import re
import unicodedata
from pathlib import PurePath

from ..errors import InputRejected
from ..models import LessonMeta
from ..vocab import GROUPS, accepted_categories, accepted_dialects, category_code, dialect_code, group_code

SIDECAR_KEYS = ("lesson_id", "title", "speaker", "category", "dialect", "series", "episode",
                "recorded_on", "valid_from", "valid_until", "audiences", "description", "evergreen")
"""Keys a sidecar may have: the contract's, plus ``episode`` and ``evergreen``."""


def _sidecar_error(name: str, en: str, zh: str, fix: str, fix_zh: str) -> InputRejected:
    return InputRejected(f"sidecar {name}: {en}", message_zh=f"說明檔 {name}：{zh}",
                         fix=fix, fix_zh=fix_zh)


def from_sidecar(data: object, name: str) -> LessonMeta:
    """Validate a parsed sidecar (``<stem>.json``) into :class:`LessonMeta`.

    Raises:
        InputRejected: not an object, an unknown key, an unknown category or dialect, a
            date not in ``YYYY-MM-DD`` form, or a value of the wrong type.
    """
    if not isinstance(data, dict):
        raise _sidecar_error(name, "must be a JSON object", "必須是 JSON 物件（{...}）",
                             "write the sidecar as {\"title\": ..., \"category\": ...}",
                             "請以 {\"title\": ..., \"category\": ...} 的格式填寫")
    for key in data:
        if key not in SIDECAR_KEYS:
            raise _sidecar_error(name, f"unknown field {key!r}", f"不認識的欄位「{key}」",
                                 f"use only: {', '.join(SIDECAR_KEYS)}",
                                 f"只能使用這些欄位：{', '.join(SIDECAR_KEYS)}")
    text = {}
    for key in ("lesson_id", "title", "speaker", "series", "description"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise _sidecar_error(name, f"field {key!r} must be text", f"欄位「{key}」必須是文字",
                                 f"write \"{key}\": \"...\"", f"請寫成 \"{key}\": \"...\"")
        text[key] = value.strip() if isinstance(value, str) and value.strip() else None
    lesson_id = text["lesson_id"]
    if lesson_id is not None and (len(lesson_id) > 80 or any(c in lesson_id for c in "/\\")
                                  or any(unicodedata.category(c)[0] in "CZ" and c != " " for c in lesson_id)):
        raise _sidecar_error(name, f"lesson_id {lesson_id!r} must be at most 80 characters, without slashes "
                             "or control characters", f"lesson_id「{lesson_id}」最多 80 個字元，不能有斜線或控制字元",
                             "e.g. \"lesson_id\": \"dj-2027q1-01\"", "例如 \"lesson_id\": \"dj-2027q1-01\"")
    category = data.get("category")
    if category is not None and category_code(str(category)) is None:
        raise _sidecar_error(name, f"unknown category {category!r}", f"不認識的類別「{category}」",
                             f"use one of: {accepted_categories()}",
                             f"請使用：{accepted_categories()}")
    dialect = data.get("dialect")
    if dialect is not None and dialect_code(str(dialect)) is None:
        raise _sidecar_error(name, f"unknown dialect {dialect!r}", f"不認識的方言「{dialect}」",
                             f"use one of: {accepted_dialects()}", f"請使用：{accepted_dialects()}")
    dates = {k: _date(data.get(k), k, name) for k in ("recorded_on", "valid_from", "valid_until")}
    if dates["valid_from"] and dates["valid_until"] and dates["valid_until"] < dates["valid_from"]:
        raise _sidecar_error(name, "valid_until is before valid_from", "valid_until 早於 valid_from",
                             "correct the dates", "請更正日期")
    audiences = data.get("audiences", [])
    if not isinstance(audiences, list) or any(group_code(str(a)) is None for a in audiences):
        raise _sidecar_error(name, f"audiences must be a list of {', '.join(GROUPS)}",
                             f"audiences 必須是以下值的清單：{', '.join(GROUPS)}",
                             "e.g. \"audiences\": [\"fisher\", \"elderly\"]",
                             "例如 \"audiences\": [\"fisher\", \"elderly\"]")
    episode = data.get("episode")
    if episode is not None and (not isinstance(episode, int) or isinstance(episode, bool) or episode < 1):
        raise _sidecar_error(name, "episode must be a whole number from 1", "episode 必須是從 1 起的整數",
                             "e.g. \"episode\": 3", "例如 \"episode\": 3")
    evergreen = data.get("evergreen")
    if evergreen is not None and not isinstance(evergreen, bool):
        raise _sidecar_error(name, "evergreen must be true or false", "evergreen 必須是 true 或 false",
                             "e.g. \"evergreen\": true", "例如 \"evergreen\": true")
    return LessonMeta(category=category_code(str(category)) if category else None,
                      dialect=dialect_code(str(dialect)) if dialect else None,
                      audiences=tuple(sorted({group_code(str(a)) for a in audiences})),  # type: ignore[misc]
                      episode=episode, evergreen=evergreen, **text, **dates)


def _date(value: object, key: str, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise _sidecar_error(name, f"{key} = {value!r} is not a date in YYYY-MM-DD form",
                             f"{key}「{value}」不是 YYYY-MM-DD 格式的日期",
                             f"write e.g. \"{key}\": \"2026-12-01\"",
                             f"請寫成例如 \"{key}\": \"2026-12-01\"") from None


def from_name(filename: str) -> LessonMeta:
    """Parse ``<category>_<dialect>_<title>[_<speaker>].<ext>`` (Chinese or English parts).

    A name that does not follow the pattern gives only what can be recognised: a leading
    category and/or dialect part. The title falls back to the stem elsewhere.
    """
    stem = unicodedata.normalize("NFC", PurePath(filename).stem).strip()
    parts = [p.strip() for p in stem.split("_")]
    category = category_code(parts[0]) if parts else None
    if category is None:
        return LessonMeta()
    dialect = dialect_code(parts[1]) if len(parts) > 1 else None
    if dialect is None:
        rest = parts[1:]
    else:
        rest = parts[2:]
    title = rest[0] if rest and rest[0] else None
    speaker = "_".join(rest[1:]) if len(rest) > 1 else None
    return LessonMeta(category=category, dialect=dialect, title=title, speaker=speaker or None)


def from_tags(tags: dict[str, str]) -> LessonMeta:
    """Map embedded tags (see :func:`pipeline.media.tags.read_tags`) to metadata."""
    return LessonMeta(title=tags.get("title") or None, speaker=tags.get("artist") or None,
                      series=tags.get("album") or None,
                      category=category_code(tags.get("genre")),
                      dialect=dialect_code(tags.get("language")),
                      description=tags.get("comment") or None)


def merge(*sources: LessonMeta) -> LessonMeta:
    """Field by field, the first source that gives a value wins."""
    values = {}
    for f in dataclasses.fields(LessonMeta):
        for src in sources:
            value = getattr(src, f.name)
            if value not in (None, "", ()):
                values[f.name] = value
                break
    return LessonMeta(**values)


def decode_sidecar(raw: bytes, name: str) -> tuple[object, str | None]:
    """Parse the bytes of a sidecar: UTF-8 (with or without BOM) as the contract says,
    UTF-16 with a BOM (Windows Notepad "Unicode"), or GB18030 (Notepad "ANSI" on Chinese
    Windows, which editors use). Returns the JSON value and, for a non-UTF-8 file, a
    note that says how it was read.

    Raises:
        InputRejected: not JSON in any of these encodings; the message gives the line and
            column of the first error.
    """
    note = None
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, note = raw.decode("utf-16"), "read as UTF-16"
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text, note = raw.decode("gb18030"), "read as GBK/GB18030, not UTF-8"
            except UnicodeDecodeError:
                raise _sidecar_error(name, "is not text in UTF-8", "不是 UTF-8 編碼的文字檔",
                                     "save the sidecar as UTF-8 text", "請把說明檔存成 UTF-8 編碼") from None
    try:
        return json.loads(text), note
    except json.JSONDecodeError as exc:
        raise _sidecar_error(name, f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                             f"不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 欄有錯（{exc.msg}）",
                             "fix the sidecar (a JSON object such as {\"title\": \"...\", \"category\": "
                             "\"theory\"}) and drop both files again",
                             "請修正說明檔（JSON 物件，例如 {\"title\": \"...\", \"category\": \"theory\"}），"
                             "再把錄音和說明檔一起放入") from None


_SPACES = re.compile(r"\s+")


def one_line(text: str | None) -> str | None:
    """A title, speaker or series as one line: NFC, runs of white space (newlines, tabs,
    ideographic spaces) made one space, control characters removed; None when empty."""
    if text is None:
        return None
    text = unicodedata.normalize("NFC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cc" or c in "\t\n\r")
    text = _SPACES.sub(" ", text).strip()
    return text or None
