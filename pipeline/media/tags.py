"""The one boundary to mutagen: reading tags of inbox files, writing tags of renditions.

Reading repairs the common Chinese mojibake: GBK/GB18030 bytes stored in ID3 frames that
declare ISO-8859-1, and in ID3v1 (see ``../shared/corpus/bugs`` BR-20). Writing uses
ID3v2.3 with UTF-16 text (``$01`` + BOM, id3v2.3.0 §3.3) so players without UTF-8 read it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import mutagen
from mutagen import id3
from mutagen.asf import ASF
from mutagen.mp3 import MP3, BitrateMode
from mutagen.mp4 import MP4
from mutagen.ogg import OggFileType, OggPage

from . import amr, riff

_ID3_READ = {"title": "TIT2", "artist": "TPE1", "album": "TALB", "genre": "TCON",
             "language": "TLAN", "date": "TDRC"}
_EASY_KEYS = ("title", "artist", "album", "genre", "language", "date", "comment", "description")
_ASF_READ = {"title": "Title", "artist": "Author", "album": "WM/AlbumTitle", "genre": "WM/Genre",
             "language": "WM/Language", "date": "WM/Year", "comment": "Description"}
_MP4_READ = {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb", "genre": "\xa9gen",
             "date": "\xa9day", "comment": "\xa9cmt"}
#: a CJK character squeezed between Latin letters ("Fu遙all"): a Latin word misread, not Chinese
_SANDWICH = re.compile(r"[A-Za-z][\u3400-\u9fff\uf900-\ufaff][A-Za-z]")


def _common_chinese(ch: str) -> bool:
    """True for characters a Chinese title plausibly contains: ASCII, the 6,763 common
    simplified characters and the symbols of GB 2312, and the 5,401 common traditional
    characters of Big5 level 1 (lead bytes A4-C6) and its symbols (A1-A3)."""
    if ord(ch) < 0x80:
        return True
    try:
        ch.encode("gb2312")
        return True
    except UnicodeEncodeError:
        pass
    try:
        return 0xA1 <= ch.encode("big5")[0] <= 0xC6
    except UnicodeEncodeError:
        return False


def repair_mojibake(text: str) -> str:
    """Undo GBK/GB18030 bytes decoded as Latin-1 (BR-20: old Chinese taggers, ID3 frames
    declared ISO-8859-1, ID3v1).

    Applies only when every character is below U+0100, at least one is above U+007F (pure
    ASCII is never guessed at), the bytes decode strictly as GB18030 (a last lead byte
    cut off by a fixed-size ID3v1 field is dropped), and the result reads as Chinese:
    every character is a common simplified (GB 2312) or traditional (Big5 level 1)
    character, a symbol or ASCII, and no CJK character sits between two Latin letters.
    Latin-1 words such as "Zürich", "Éxito" or "Fußball" are left alone. Otherwise the
    text is returned unchanged.
    """
    if not text or any(ord(c) > 0xFF for c in text) or all(ord(c) < 0x80 for c in text):
        return text
    raw = text.encode("latin-1")
    try:
        fixed = raw.decode("gb18030")
    except UnicodeDecodeError:
        if raw[-1] < 0x81:
            return text
        try:
            fixed = raw[:-1].decode("gb18030")
        except UnicodeDecodeError:
            return text
    has_cjk = any(unicodedata.name(c, "").startswith(("CJK", "FULLWIDTH", "IDEOGRAPHIC")) for c in fixed)
    if has_cjk and all(_common_chinese(c) for c in fixed) and not _SANDWICH.search(fixed):
        return fixed
    return text


def _plausible(text: str) -> int:
    """How many characters of ``text`` a Chinese title plausibly contains."""
    return sum(1 for c in text if _common_chinese(c) and c not in "\ufffd")


def fix_frame_text(payload: bytes, utf16_bom: bool = True) -> bytes:
    """The payload of an ID3v2 text or comment frame (encoding byte, then text), with the
    encodings Chinese tag editors get wrong put right (id3v2.4.0-structure §4):

    - flagged UTF-8 (``$03``) but not valid UTF-8, while valid GB18030 (GBK is its
      subset): the text is recoded to real UTF-8;
    - flagged UTF-16 (``$01``) without a byte order mark: the byte order that reads as
      text is chosen (mutagen assumes little-endian) and the mark added; only with
      ``utf16_bom`` (text frames: the text follows the encoding byte directly).

    Anything else, and text that is valid as flagged, is returned unchanged. Pure.
    """
    if len(payload) < 2:
        return payload
    enc, body = payload[0], payload[1:]
    if enc == 3:
        try:
            body.decode("utf-8")
            return payload
        except UnicodeDecodeError:
            pass
        try:
            return b"\x03" + body.decode("gb18030").encode("utf-8")
        except UnicodeDecodeError:
            return payload
    if utf16_bom and enc == 1 and len(body) >= 2 and body[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        even = body[:len(body) - len(body) % 2]
        le, be = even.decode("utf-16-le", "replace"), even.decode("utf-16-be", "replace")
        return b"\x01" + (b"\xfe\xff" if _plausible(be) > _plausible(le) else b"\xff\xfe") + body
    return payload


def _lenient(frame_cls: type) -> type:
    """``frame_cls`` whose text is put right by :func:`fix_frame_text` before mutagen
    parses it (registered through mutagen's ``known_frames``; same frame id)."""
    text_frame = issubclass(frame_cls, id3.TextFrame)

    def _readData(self, id3_header, data):  # noqa: N802 (mutagen's name)
        return frame_cls._readData(self, id3_header, fix_frame_text(data, utf16_bom=text_frame))
    return type(frame_cls.__name__, (frame_cls,), {"_readData": _readData})


#: mutagen's frame classes, the text frames read here made lenient (see :func:`fix_frame_text`)
_LENIENT_FRAMES = {**id3.Frames, **{fid: _lenient(id3.Frames[fid]) for fid in (*_ID3_READ.values(), "COMM")}}


def read_tags(path: Path) -> dict[str, str]:
    """Embedded tags of an audio file as ``{title, artist, album, genre, language, date,
    comment}`` (only those present): ID3v2 with ID3v1 filling what v2 lacks (MP3, WAV,
    AIFF), MP4/M4A atoms, ASF/WMA attributes, Vorbis comments (FLAC, Ogg, Opus) and APEv2.

    Text from ID3 frames declared ISO-8859-1 and from ID3v1 is repaired by
    :func:`repair_mojibake`; ID3 frames declared UTF-8 that hold GBK/GB18030 bytes, and
    UTF-16 frames without a byte order mark, by :func:`fix_frame_text`; formats whose
    text is Unicode by definition are not touched.
    NUL and other control characters are removed. Never raises for unreadable tags: a
    file without readable tags gives ``{}``.
    """
    try:
        f = mutagen.File(str(path))
    except Exception:  # mutagen raises many kinds for damaged files; tags are optional
        return _id3_only(path)
    if f is None or f.tags is None:
        return _id3_only(path)
    if isinstance(f.tags, id3.ID3):
        return _from_id3(_lenient_id3(path, f.tags))
    if isinstance(f, MP4):
        return {k: _clean(str(f.tags[v][0]), False) for k, v in _MP4_READ.items() if f.tags.get(v)}
    if isinstance(f, ASF):
        return {k: _clean(str(f.tags[v][0]), False) for k, v in _ASF_READ.items() if f.tags.get(v)}
    out = {}
    for key in _EASY_KEYS:
        try:
            values = f.tags.get(key) or f.tags.get(key.upper())
        except (KeyError, ValueError, TypeError):
            values = None
        if values:
            value = values[0] if isinstance(values, list) else values
            out.setdefault("comment" if key == "description" else key, _clean(str(value), False))
    return out


def _from_id3(tags: id3.ID3) -> dict[str, str]:
    out = {}
    for key, frame_id in _ID3_READ.items():
        frame = tags.get(frame_id)
        if frame is None or not frame.text:
            continue
        text = frame.genres[0] if frame_id == "TCON" and frame.genres else str(frame.text[0])
        value = _clean(text, frame.encoding == id3.Encoding.LATIN1)
        if value:
            out[key] = value
    comments = [c for c in tags.getall("COMM") if c.text and not c.desc.lower().startswith(("itun", "songs-db"))]
    comments.sort(key=lambda c: c.desc != "")
    if comments:
        out["comment"] = _clean(str(comments[0].text[0]), comments[0].encoding == id3.Encoding.LATIN1)
    return out


def _lenient_id3(path: Path, tags: id3.ID3) -> id3.ID3:
    """The ID3 tag of ``path`` read again with :data:`_LENIENT_FRAMES` (the tag of an MP3;
    ID3 chunks of WAV/AIFF keep what mutagen read)."""
    try:
        return id3.ID3(str(path), known_frames=_LENIENT_FRAMES)
    except (id3.ID3NoHeaderError, mutagen.MutagenError, OSError, ValueError):
        return tags


def _id3_only(path: Path) -> dict[str, str]:
    """ID3 tags of a file mutagen does not otherwise recognise (e.g. an MP3 it cannot
    sync, a file with only an ID3v1 tag)."""
    try:
        tags = id3.ID3(str(path), known_frames=_LENIENT_FRAMES)
    except (id3.ID3NoHeaderError, mutagen.MutagenError, OSError, ValueError):
        return {}
    return _from_id3(tags)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _clean(text: str, latin1: bool) -> str:
    text = repair_mojibake(text) if latin1 else text
    return unicodedata.normalize("NFC", _CONTROL.sub("", text)).strip()


def tags_only(path: Path) -> bool:
    """True when a file is an ID3 tag with (almost) nothing after it: no sound at all
    (BR-03, a tag-only MP3). Never raises."""
    try:
        tags = id3.ID3(str(path))
        size = Path(path).stat().st_size
    except (id3.ID3NoHeaderError, mutagen.MutagenError, OSError, ValueError):
        return False
    return size - tags.size <= 128 + 64


@dataclass(frozen=True)
class StreamHeader:
    """What a file's own header says about its length, read with mutagen.

    ``length_s``: the duration the header states, only where the format records it
    exactly (WAV/RF64 data size, FLAC STREAMINFO, MP4 ``mdhd``, ASF file properties,
    MP3 Xing/Info/VBRI frame count); None otherwise (MP3 without such a header, AMR).
    ``ends_cleanly``: for Ogg (Vorbis, Opus, FLAC-in-Ogg), whether the last page carries
    the end-of-stream flag (RFC 3533 §6); None for other formats.
    ``counted``: ``length_s`` was counted from the frames present (AMR, which has no
    length field), not declared; a decode shorter than it means the decoder dropped
    frames, not that the file was cut off.

    Sizes that mean "unknown" are no length: a WAV written to a pipe (RIFF and data sizes
    0xFFFFFFFF or 0), FLAC STREAMINFO with 0 samples, an MP4 of fragments (``mvhd``
    duration 0), WebM without ``Duration``: their length is taken from the data.
    """

    length_s: float | None = None
    ends_cleanly: bool | None = None
    counted: bool = False


def read_stream_header(path: Path) -> StreamHeader:
    """The header facts of ``path`` used to tell a complete file from a truncated one.
    Never raises: an unreadable header gives ``StreamHeader()``."""
    try:
        size = Path(path).stat().st_size
        with open(path, "rb") as fileobj:
            head = fileobj.read(1 << 16)
    except OSError:
        return StreamHeader()
    layout = riff.read_layout(head, size)
    if layout is not None and (layout.unknown_size or layout.resynced):
        return StreamHeader()   # the data runs to the end: its length is the decoded length
    if amr.magic(head) is not None:
        frames = amr.count_frames(Path(path).read_bytes())
        return StreamHeader(length_s=frames.duration_s, counted=True) if frames else StreamHeader()
    try:
        f = mutagen.File(str(path))
    except Exception:  # damaged or unknown headers say nothing; decoding decides
        return StreamHeader()
    if f is None or getattr(f, "info", None) is None:
        return StreamHeader()
    if isinstance(f, OggFileType):
        return StreamHeader(ends_cleanly=_ogg_ends_cleanly(path))
    if isinstance(f, MP3) and f.info.bitrate_mode == BitrateMode.UNKNOWN:
        return StreamHeader()
    length = getattr(f.info, "length", None)
    return StreamHeader(length_s=float(length) if length else None)


def _ogg_ends_cleanly(path: Path) -> bool | None:
    try:
        with open(path, "rb") as fileobj:
            first = OggPage(fileobj)
            last = OggPage.find_last(fileobj, first.serial, finishing=False)
    except Exception:  # a damaged page structure: leave the verdict to decoding
        return None
    return None if last is None else bool(last.last)


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


def write_vorbis(path: Path, tags: TagSet) -> None:
    """Replace the Vorbis comments of an Ogg Opus file (RFC 7845 §5.2): TITLE, ARTIST,
    ALBUM, GENRE, TRACKNUMBER, LANGUAGE (the ISO 639-3 code), COMMENT, the catalog id as
    DANGKE_LESSON_ID and the series cover as METADATA_BLOCK_PICTURE (a FLAC picture
    block, front cover, base64). Vorbis comments are UTF-8 by definition.

    Raises:
        mutagen.MutagenError: the file is not a writable Ogg Opus file.
    """
    import base64

    from mutagen.flac import Picture
    from mutagen.oggopus import OggOpus

    f = OggOpus(str(path))
    f.tags.clear()
    f.tags["TITLE"] = [tags.title]
    for key, value in (("ARTIST", tags.artist), ("ALBUM", tags.album), ("GENRE", tags.genre),
                       ("TRACKNUMBER", tags.track), ("LANGUAGE", tags.language),
                       ("COMMENT", tags.comment), ("DANGKE_LESSON_ID", tags.lesson_id)):
        if value:
            f.tags[key] = [value]
    if tags.cover:
        pic = Picture()
        pic.type, pic.mime, pic.data = 3, tags.cover_mime, tags.cover   # 3: front cover
        f.tags["METADATA_BLOCK_PICTURE"] = [base64.b64encode(pic.write()).decode("ascii")]
    f.save()


WRITERS = {
    "id3v2.3": lambda path, tags, id3v1: write_id3v23(path, tags, id3v1),
    "mp4": lambda path, tags, id3v1: write_mp4(path, tags),
    "vorbis": lambda path, tags, id3v1: write_vorbis(path, tags),
}
"""The tag styles written here (a format's :attr:`pipeline.formats.Format.tag_style`), by
name; ``bext`` (Broadcast WAVE) is written by :class:`pipeline.encode.Tagger` with the
measured loudness, and its title by :func:`write_wav_title`."""


def write(style: str, path: Path, tags: TagSet, id3v1: bool = False) -> None:
    """Replace the tags of the rendition at ``path`` in tag ``style`` (see :data:`WRITERS`);
    ``id3v1`` adds an ID3v1 tag where the style has one (``id3v2.3``).

    Raises:
        ValueError: no writer for ``style``.
        mutagen.MutagenError: the file cannot be tagged in that style.
    """
    if style not in WRITERS:
        raise ValueError(f"no tag writer for {style!r}; known: {', '.join(WRITERS)}")
    WRITERS[style](path, tags, id3v1)


def write_wav_title(path: Path, title: str, artist: str = "") -> bool:
    """Add an ``id3 `` chunk (ID3v2.3, UTF-16 text) with the title (and artist) to a
    WAV file, after its audio. MediaInfo and ExifTool decode RIFF ``INFO`` text as
    Latin-1 (a UTF-8 ``INAM`` shows as mojibake in both) but read this chunk's UTF-16
    frames, and prefer them to ``INFO``; players and ffmpeg ignore it or read it too.

    Returns False (and changes nothing) for an empty title or a file mutagen cannot
    open as RIFF/WAVE (an RF64 file over 4 GiB).
    """
    from mutagen.wave import WAVE

    if not title:
        return False
    try:
        wav = WAVE(str(path))
    except mutagen.MutagenError:
        return False
    if wav.tags is None:
        wav.add_tags()
    wav.tags.add(id3.TIT2(encoding=id3.Encoding.UTF16, text=title))
    if artist:
        wav.tags.add(id3.TPE1(encoding=id3.Encoding.UTF16, text=artist))
    wav.save(v2_version=3)
    return True
