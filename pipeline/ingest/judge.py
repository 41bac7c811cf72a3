"""The ingest analysis of one recording: probe, decode and judge it against ``[ingest]``
(:func:`judge`). Pure of the catalog and the inbox, so a Dask worker runs it as a task
(:mod:`pipeline.compute.tasks`) as well as ingest itself.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..config import Config
from ..errors import InputRejected, ToolError, ToolInterrupted
from ..media import ffmpeg, repair, tags
from . import files, quality
from .quality import Findings, Truncated

#: the formats named in the reasons of files that are not audio
AUDIO_HINT = "MP3, WAV, M4A, AMR, OGG/Opus, FLAC, WMA"


def judge(cfg: Config, path: Path) -> tuple[Findings, object]:
    """Probe, decode and judge ``path`` against ``[ingest]``; also its loudness curve.

    A file ffmpeg would misread (a WAV chunk without its pad byte, AMR with DTX) is
    judged by its decodable copy (:mod:`pipeline.media.repair`), as it will be encoded;
    the decoded length is checked against what the container holds, so a decoder that
    drops frames is caught (:func:`pipeline.ingest.quality.check_frames_kept`).

    Raises:
        Truncated, InputRejected: see :func:`pipeline.ingest.quality.assess`; files that
            ffprobe or ffmpeg cannot read are "not decodable audio".
        ToolInterrupted: the decoder was killed (try again later).
    """
    try:
        with repair.for_decoding(path) as (source, fix):
            return _judge_decodable(cfg, path, source, fix.code if fix else "")
    except ToolInterrupted:
        raise
    except ToolError as exc:   # the decodable copy could not be made
        raise _not_audio(exc, path) from exc


def _judge_decodable(cfg: Config, path: Path, source: Path, fix: str) -> tuple[Findings, object]:
    try:
        probe = ffmpeg.probe(source)
        if fix:   # name the codec of the file itself, not of its decodable copy
            original = _probe_or_none(path)
            if original is not None:
                probe = replace(probe, codec=original.codec, format_name=original.format_name)
    except ToolInterrupted:
        raise
    except ToolError as exc:
        if "moov atom not found" in exc.message:
            raise Truncated("the file is incomplete: its index (the MP4 'moov' box) is missing, "
                            "as when a copy from a phone stops before the end",
                            message_zh="檔案不完整：缺少 MP4 索引（moov），通常是從手機複製時中斷",
                            fix=quality.RETRY_EN, fix_zh=quality.RETRY_ZH) from exc
        raise _not_audio(exc, path) from exc
    header = tags.read_stream_header(path)
    try:
        analysis = ffmpeg.analyze(source, probe.sample_rate, probe.channels, probe.header_duration_s,
                                  other_streams=probe.other_streams)
        demuxed = ffmpeg.demuxed_duration(source, timeout_s=60.0 + (probe.header_duration_s or 600.0))
    except ToolInterrupted:
        raise
    except ToolError as exc:
        raise _not_audio(exc, path) from exc
    return quality.assess(analysis, probe, header, cfg.ingest, demuxed_s=demuxed, repair=fix), analysis.curve


def _probe_or_none(path: Path) -> ffmpeg.Probe | None:
    try:
        return ffmpeg.probe(path)
    except ToolError:
        return None


def _not_audio(exc: ToolError, path: Path) -> InputRejected:
    if tags.tags_only(path):
        return InputRejected("not decodable audio: the file holds only tags (title and the like), no sound",
                             message_zh="無法解碼為音訊：檔案裡只有標籤（標題等），沒有聲音",
                             fix="export the recording again; the export or copy lost the sound",
                             fix_zh="請重新匯出錄音，匯出或複製時聲音遺失了")
    kind = files.sniff(path)
    if kind is None:
        return InputRejected(f"not decodable audio: {exc.message}",
                             message_zh="無法解碼為音訊（檔案損壞、不完整或不是錄音檔）",
                             fix=f"export the recording again as one of {AUDIO_HINT}",
                             fix_zh=f"請重新匯出為 {AUDIO_HINT} 其中一種格式")
    if "SILK" in kind[0]:
        return InputRejected(f"not decodable audio: this is {kind[0]}, which only the chat app plays",
                             message_zh=f"無法解碼為音訊：這是{kind[1]}，只有聊天軟體能播放",
                             fix="save or forward it from the app as an audio file (MP3 or M4A), or "
                                 "record the lesson with the phone's recorder, and drop that file",
                             fix_zh="請在聊天軟體中把語音存成或轉成音訊檔（MP3 或 M4A），或改用手機錄音機錄製，再放入該檔案")
    return InputRejected(f"not decodable audio: this is {kind[0]}, not a recording",
                         message_zh=f"無法解碼為音訊：這是{kind[1]}，不是錄音檔",
                         fix=f"drop the recording itself ({AUDIO_HINT})",
                         fix_zh=f"請放入錄音檔本身（{AUDIO_HINT}）")
