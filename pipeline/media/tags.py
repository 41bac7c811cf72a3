"""The one boundary to mutagen: reading tags of inbox files, writing tags of renditions.

Reading repairs the common Chinese mojibake: GBK/GB18030 bytes stored in ID3 frames that
declare ISO-8859-1, and in ID3v1 (see ``../shared/corpus/bugs`` BR-20). Writing uses
ID3v2.3 with UTF-16 text (``$01`` + BOM, id3v2.3.0 §3.3) so players without UTF-8 read it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import mutagen
from mutagen import id3
from mutagen.mp4 import MP4

_ID3_READ = {"title": "TIT2", "artist": "TPE1", "album": "TALB", "genre": "TCON",
             "language": "TLAN", "date": "TDRC"}
_EASY_KEYS = ("title", "artist", "album", "genre", "language", "date", "comment", "description")


def repair_mojibake(text: str) -> str:
    """Undo GBK/GB18030 bytes decoded as Latin-1.

    Applies only when every character is below U+0100, at least one is above U+007F (pure
    ASCII is never guessed at), the bytes decode strictly as GB18030, and the result
    contains CJK characters. Otherwise the text is returned unchanged.
    """
    if not text or any(ord(c) > 0xFF for c in text) or all(ord(c) < 0x80 for c in text):
        return text
    try:
        fixed = text.encode("latin-1").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text
    if any(unicodedata.name(c, "").startswith(("CJK", "FULLWIDTH", "IDEOGRAPHIC")) for c in fixed):
        return fixed
    return text


def read_tags(path: Path) -> dict[str, str]:
    """Embedded tags of an audio file as ``{title, artist, album, genre, language, date,
    comment}`` (only those present), text repaired by :func:`repair_mojibake`.

    Never raises for unreadable tags: a file without readable tags gives ``{}``.
    """
    try:
        f = mutagen.File(str(path))
    except Exception:  # mutagen raises many kinds for damaged files; tags are optional
        return {}
    if f is None or f.tags is None:
        return _id3v1_only(path)
    if isinstance(f.tags, id3.ID3):
        out = {}
        for key, frame_id in _ID3_READ.items():
            frame = f.tags.get(frame_id)
            if frame is not None and frame.text:
                out[key] = _clean(str(frame.text[0]), frame.encoding == id3.Encoding.LATIN1)
        comments = f.tags.getall("COMM")
        if comments and comments[0].text:
            out["comment"] = _clean(str(comments[0].text[0]), comments[0].encoding == id3.Encoding.LATIN1)
        return out
    if isinstance(f, MP4):
        mp4 = {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb", "genre": "\xa9gen",
               "date": "\xa9day", "comment": "\xa9cmt"}
        return {k: _clean(str(f.tags[v][0]), False) for k, v in mp4.items() if f.tags.get(v)}
    out = {}
    for key in _EASY_KEYS:
        try:
            values = f.tags.get(key) or f.tags.get(key.upper())
        except (KeyError, ValueError, TypeError):
            values = None
        if values:
            value = values[0] if isinstance(values, list) else values
            out["comment" if key == "description" else key] = _clean(str(value), True)
    return out


def _id3v1_only(path: Path) -> dict[str, str]:
    try:
        tags = id3.ID3(str(path))
    except (id3.ID3NoHeaderError, mutagen.MutagenError, OSError):
        return {}
    return {k: _clean(str(tags[v].text[0]), True) for k, v in _ID3_READ.items()
            if v in tags and tags[v].text}


def _clean(text: str, latin1: bool) -> str:
    text = repair_mojibake(text) if latin1 else text
    return text.replace("\x00", "").strip()


@dataclass(frozen=True)
class TagSet:
    """Tags written into a rendition.

    ``language`` is an ISO 639-3 code (TLAN; id3v2.3 §4.2.1 asks for ISO 639-2, so the
    macrolanguage ``chi`` is not enough to tell Fuzhou from Mandarin). ``lesson_id`` is
    the catalog id (``TXXX:DANGKE_LESSON_ID``) so a file can always be traced back.
    """

    title: str
    artist: str = ""
    album: str = ""
    genre: str = ""
    language: str = ""
    comment: str = ""
    lesson_id: str = ""
    track: str = ""
    cover: bytes = b""
    cover_mime: str = "image/jpeg"


def _gbk_field(text: str, size: int = 30) -> str:
    """``text`` as GBK bytes of at most ``size`` bytes, cut between characters, carried
    in a str whose code points are those bytes (mutagen writes ID3v1 text as Latin-1)."""
    out = b""
    for ch in text:
        b = ch.encode("gbk", "replace")
        if len(out) + len(b) > size:
            break
        out += b
    return out.decode("latin-1")


def _id3v1_block(tags: TagSet) -> bytes:
    """The 128-byte ID3v1.1 tag, text in GBK (see :func:`write_id3v23`)."""
    from mutagen.id3._id3v1 import MakeID3v1  # mutagen's own ID3v1 builder

    frames = {"TIT2": id3.TIT2(encoding=0, text=[_gbk_field(tags.title)])}
    if tags.artist:
        frames["TPE1"] = id3.TPE1(encoding=0, text=[_gbk_field(tags.artist)])
    if tags.album:
        frames["TALB"] = id3.TALB(encoding=0, text=[_gbk_field(tags.album)])
    comment = tags.lesson_id or tags.comment
    if comment:
        frames["COMM"] = id3.COMM(encoding=0, lang="chi", desc="", text=[_gbk_field(comment, 28)])
    if tags.track.split("/")[0].isdigit():
        frames["TRCK"] = id3.TRCK(encoding=0, text=[tags.track.split("/")[0]])
    return MakeID3v1(frames)


def write_id3v23(path: Path, tags: TagSet, id3v1: bool) -> None:
    """Replace all tags of an MP3 with ID3v2.3 (UTF-16 text, id3v2.3.0 §3.3) and, if
    asked, ID3v1.1.

    ID3v2.3: TIT2, TPE1, TALB, TCON, TRCK, TLAN (the ISO 639-3 code), COMM, the catalog id
    as ``TXXX:DANGKE_LESSON_ID`` and the series cover as APIC (front cover).

    ID3v1 has no encoding field. mutagen writes it as Latin-1, which turns Chinese into
    ``?`` (standards.md §0 item 14). Players that read only ID3v1 are cheap Chinese
    players, whose firmware (like Chinese Windows) reads ID3v1 in the local code page,
    GBK; so the ID3v1 text is written in GBK (cut at a character boundary within the
    30-byte fields), built by mutagen from frames carrying the GBK bytes, and the comment
    field holds the catalog id. mutagen's reader shows such a tag as mojibake, which
    :func:`repair_mojibake` undoes.

    Raises:
        mutagen.MutagenError: the file is not a writable MP3.
    """
    t = id3.ID3()
    enc = id3.Encoding.UTF16
    t.add(id3.TIT2(encoding=enc, text=[tags.title]))
    if tags.artist:
        t.add(id3.TPE1(encoding=enc, text=[tags.artist]))
    if tags.album:
        t.add(id3.TALB(encoding=enc, text=[tags.album]))
    if tags.genre:
        t.add(id3.TCON(encoding=enc, text=[tags.genre]))
    if tags.track:
        t.add(id3.TRCK(encoding=enc, text=[tags.track]))
    if tags.language:
        t.add(id3.TLAN(encoding=id3.Encoding.LATIN1, text=[tags.language]))
    if tags.comment:
        t.add(id3.COMM(encoding=enc, lang="chi", desc="", text=[tags.comment]))
    if tags.lesson_id:
        t.add(id3.TXXX(encoding=enc, desc="DANGKE_LESSON_ID", text=[tags.lesson_id]))
    if tags.cover:
        t.add(id3.APIC(encoding=enc, mime=tags.cover_mime, type=id3.PictureType.COVER_FRONT,
                       desc="", data=tags.cover))
    t.save(str(path), v1=0, v2_version=3)
    if id3v1:
        with open(path, "ab") as f:
            f.write(_id3v1_block(tags))


def read_id3(path: Path) -> dict[str, str]:
    """The ID3v2 text frames of a file as ``{frame id: text}`` (for checks and status)."""
    try:
        t = id3.ID3(str(path))
    except id3.ID3NoHeaderError:
        return {}
    return {k: str(v) for k, v in t.items()}


def write_mp4(path: Path, tags: TagSet) -> None:
    """Replace the iTunes-style tags of an M4A file (title, artist, album, genre,
    comment, cover, the catalog id as ``----:org.dangke:lesson_id`` and the ISO 639-3
    language as ``----:org.dangke:language``).

    Raises:
        mutagen.MutagenError: the file is not a writable MP4.
    """
    from mutagen.mp4 import MP4FreeForm

    f = MP4(str(path))
    if f.tags is None:
        f.add_tags()
    else:
        f.tags.clear()
    f.tags["\xa9nam"] = [tags.title]
    for key, value in (("\xa9ART", tags.artist), ("\xa9alb", tags.album), ("\xa9gen", tags.genre),
                       ("\xa9cmt", tags.comment)):
        if value:
            f.tags[key] = [value]
    if tags.lesson_id:
        f.tags["----:org.dangke:lesson_id"] = [MP4FreeForm(tags.lesson_id.encode("utf-8"))]
    if tags.language:
        f.tags["----:org.dangke:language"] = [MP4FreeForm(tags.language.encode("utf-8"))]
    if tags.cover:
        from mutagen.mp4 import MP4Cover
        kind = MP4Cover.FORMAT_PNG if tags.cover_mime == "image/png" else MP4Cover.FORMAT_JPEG
        f.tags["covr"] = [MP4Cover(tags.cover, imageformat=kind)]
    f.save()
