"""Quality verdict of a decoded source: accept, accept with warnings, or reject.

Pure: works on what :func:`pipeline.media.ffmpeg.probe`, :func:`~pipeline.media.ffmpeg.analyze`
and :func:`pipeline.media.tags.read_stream_header` found, and on the thresholds of
``[ingest]``. Reasons are plain words for editors, in English and Chinese.

The findings are stored in the catalog (``sources.analysis``); the encoder reads
``channel_mode`` from them: ``mono``, ``mix`` (average the channels), ``left`` / ``right``
(one channel is dead: take the live one), ``invert-right`` (opposite phase: invert the
right channel, then average; a plain sum would cancel the voice) or ``downmix`` (more than
two channels: ffmpeg's standard downmix matrix, which keeps the centre channel).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..config import IngestSection
from ..errors import InputRejected
from ..media.decodelog import DecodeLog
from ..media.ffmpeg import Analysis, Probe
from ..media.signal import SignalStats, effective_bandwidth_hz, level_spread_db, silent_spans
from ..media.tags import StreamHeader

RETRY_EN = "copy the recording into the inbox again (the whole file)"
RETRY_ZH = "請把完整的錄音檔重新複製到收件夾"


@dataclass(frozen=True)
class Reason:
    """One finding an editor should know about: a stable ``code`` and plain words."""

    code: str
    en: str
    zh: str

    def text(self) -> str:
        """``"English / 中文"``, the form stored with a lesson's warnings."""
        return f"{self.en} / {self.zh}"


class Truncated(InputRejected):
    """The file stops before its own header says it should: a copy still running or cut off."""


@dataclass(frozen=True)
class ChannelFindings:
    """Per-channel figures: RMS and peak level (dBFS), DC offset (fraction of full
    scale), share of clipped samples (0..1)."""

    rms_dbfs: float
    peak_dbfs: float
    dc_offset: float
    clipped_share: float


@dataclass(frozen=True)
class Findings:
    """What the analysis found, as stored in the catalog (JSON-ready values).

    Units: seconds, Hz, LUFS (integrated loudness, ITU-R BS.1770-4), LU (loudness range,
    EBU Tech 3342), dBTP (true peak), dBFS (levels), shares 0..1. ``integrated_lufs`` and
    ``true_peak_dbtp`` are None for digital silence. ``verdict`` is ``accept`` or
    ``warn``; rejected files have no findings, only a reason. ``warnings`` are the
    ``"English / 中文"`` texts of ``reasons``.
    """

    duration_s: float
    sample_rate: int
    channels: int
    codec: str
    integrated_lufs: float | None
    lra_lu: float
    true_peak_dbtp: float | None
    clipped_share: float
    leading_silence_s: float
    trailing_silence_s: float
    total_silence_s: float
    dc_offset: float
    channel_mode: str
    warnings: tuple[str, ...]
    verdict: str = "accept"
    reasons: tuple[Reason, ...] = ()
    format_name: str = ""
    bit_rate: int | None = None
    header_duration_s: float | None = None
    effective_bandwidth_hz: float = 0.0
    level_spread_db: float = 0.0
    channel_correlation: float | None = None
    downmix_loss_db: float | None = None
    per_channel: tuple[ChannelFindings, ...] = ()
    decode_problems: tuple[str, ...] = ()
    #: how the audio was read when ffmpeg alone would misread it (``wav-layout``, ``amr-dtx``)
    repair: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _finite(x: float) -> float | None:
    return round(x, 3) if math.isfinite(x) else None


def _reject(en: str, zh: str, fix: str, fix_zh: str, kind: type[InputRejected] = InputRejected) -> InputRejected:
    return kind(en, message_zh=zh, fix=fix, fix_zh=fix_zh)


class FramesDropped(InputRejected):
    """The decoder silently dropped frames the file holds: decoding it would shorten it."""


def check_frames_kept(decoded_s: float, held_s: float | None, tolerance_s: float) -> None:
    """Raise :class:`FramesDropped` when the decoder gave less audio than the file holds:
    ``held_s`` is what the container holds (the demuxer's packets, or the frames counted
    in an AMR file), decoded or not; a decoder that skips frames it does not implement
    (ffmpeg's AMR decoders and DTX frames) gives less, by more than ``tolerance_s`` or
    0.5 %. Never a silently shortened lesson."""
    if held_s is None or held_s - decoded_s <= max(tolerance_s, 0.005 * held_s):
        return
    raise _reject(f"the decoder dropped {held_s - decoded_s:.1f} s of the {held_s:.1f} s the file holds "
                  f"(only {decoded_s:.1f} s decoded): published like this, the lesson would be shortened",
                  f"解碼器漏掉了 {held_s - decoded_s:.1f} 秒（檔案有 {held_s:.1f} 秒，只解出 {decoded_s:.1f} 秒），"
                  "照此發布課程會被縮短",
                  "export the recording again as WAV or MP3 from the recorder or phone",
                  "請從錄音設備或手機重新匯出為 WAV 或 MP3", FramesDropped)


def check_complete(decoded_s: float, probe: Probe, header: StreamHeader, log: DecodeLog,
                   tolerance_s: float) -> None:
    """Raise :class:`Truncated` when the file is a prefix of a longer one (BR-01).

    Evidence, strongest first: a header that records the length exactly (WAV/RF64 data
    size, FLAC, MP4, ASF, MP3 Xing/Info; ffprobe's value when the demuxer did not have
    to estimate it) states more than was decoded, by more than ``tolerance_s`` or 0.5 %;
    the demuxer said the file ends early (``growing file?``, ``partial file``); an Ogg
    stream lacks its end-of-stream page. MP3 without a Xing header and AMR record no
    length: a prefix of them cannot be told from a short file (an AMR length counted
    from its frames is checked by :func:`check_frames_kept` instead).
    """
    lengths = [x for x in (None if header.counted else header.length_s,
                           None if log.duration_estimated else probe.header_duration_s) if x]
    expected = max(lengths, default=0.0)
    if expected - decoded_s > max(tolerance_s, 0.005 * expected):
        raise _reject(f"the file is incomplete: its header announces {expected:.1f} s but only "
                      f"{decoded_s:.1f} s could be decoded (the copy was cut off or is still running)",
                      f"檔案不完整：檔頭標示 {expected:.1f} 秒，實際只能解出 {decoded_s:.1f} 秒（複製中斷或尚未完成）",
                      RETRY_EN, RETRY_ZH, Truncated)
    if log.incomplete:
        raise _reject(f"the file is incomplete: it ends before its header says it should ({log.incomplete[0]})",
                      "檔案不完整：檔案在檔頭所標示的結尾之前就中斷了", RETRY_EN, RETRY_ZH, Truncated)
    if header.ends_cleanly is False:
        raise _reject("the file is incomplete: it stops without the end marker of its format "
                      "(the copy was cut off, or the recorder stopped abnormally)",
                      "檔案不完整：檔案沒有正常的結尾標記（複製中斷，或錄音機異常停止）",
                      RETRY_EN + "; if the recording itself ends like this, export it again from the recorder",
                      RETRY_ZH + "；若原始錄音本身如此，請從錄音設備重新匯出", Truncated)


def _channel_mode(sig: SignalStats, t: IngestSection) -> tuple[str, list[Reason]]:
    if len(sig.channels) == 1:
        return "mono", []
    if len(sig.channels) > 2:
        return "downmix", [Reason("multichannel", f"{len(sig.channels)} channels (surround): mixed down to "
                                  "mono with the standard matrix; check that the voice is clear",
                                  f"有 {len(sig.channels)} 個聲道（環繞聲），以標準方式混成單聲道，請確認人聲清楚")]
    left, right = sig.channels[0].rms_dbfs, sig.channels[1].rms_dbfs
    reasons = []
    if right < left - t.dead_channel_db:
        return "left", reasons + [Reason(
            "dead-right", f"the right channel is silent or nearly so ({right:.0f} dBFS against "
            f"{left:.0f}); only the left channel is used",
            f"右聲道沒有聲音或幾乎沒有（{right:.0f} dBFS，左聲道 {left:.0f}），只使用左聲道")]
    if left < right - t.dead_channel_db:
        return "right", reasons + [Reason(
            "dead-left", f"the left channel is silent or nearly so ({left:.0f} dBFS against "
            f"{right:.0f}); only the right channel is used",
            f"左聲道沒有聲音或幾乎沒有（{left:.0f} dBFS，右聲道 {right:.0f}），只使用右聲道")]
    if sig.correlation is not None and sig.correlation < t.opposite_phase_below:
        return "invert-right", reasons + [Reason(
            "opposite-phase", f"the two channels are in opposite phase (correlation {sig.correlation:.2f}): "
            "a plain mix would cancel the voice, so the right channel is inverted before mixing "
            "(check the microphone wiring)",
            f"左右聲道相位相反（相關係數 {sig.correlation:.2f}），直接混成單聲道會抵消人聲；"
            "已先反轉右聲道再混合（請檢查麥克風接線）")]
    return "mix", reasons


def _downmix_loss_db(sig: SignalStats, mode: str) -> float | None:
    """Level change (dB) of the voice when the first two channels are averaged as
    ``mode`` does, relative to the average channel power; None for mono."""
    if sig.correlation is None or mode in ("mono", "left", "right", "downmix"):
        return None
    r = -sig.correlation if mode == "invert-right" else sig.correlation
    power = (1 + r) / 2
    return round(10 * math.log10(power), 2) if power > 1e-12 else -120.0


def assess(analysis: Analysis, probe: Probe, header: StreamHeader, t: IngestSection,
           demuxed_s: float | None = None, repair: str = "") -> Findings:
    """Judge a decoded source against the ``[ingest]`` thresholds ``t``. ``demuxed_s``:
    the seconds the container's packets hold (see
    :func:`pipeline.media.ffmpeg.demuxed_duration`); ``repair``: the code of the
    decodable copy analysed instead of the file (:mod:`pipeline.media.repair`), or "".

    Raises:
        FramesDropped: the decoder gave less than the file holds (:func:`check_frames_kept`).
        Truncated: the file is a prefix of a longer one (see :func:`check_complete`).
        InputRejected: no audio, sampled below ``min_sample_rate_hz``, shorter than
            ``min_duration_s``, integrated loudness below ``silent_below_lufs`` (or digital
            silence), or steady noise without speech (level spread below
            ``min_level_spread_db``).
    """
    sig = analysis.signal
    dur = analysis.duration_s
    if dur <= 0:
        raise _reject("no audio could be decoded from the file", "檔案中解不出任何聲音",
                      "export the recording again as MP3, WAV or M4A", "請重新匯出為 MP3、WAV 或 M4A 檔")
    check_complete(dur, probe, header, analysis.log, t.truncation_tolerance_s)
    check_frames_kept(dur, max([x for x in (demuxed_s, header.length_s if header.counted else None) if x],
                               default=None), t.truncation_tolerance_s)
    if analysis.sample_rate < t.min_sample_rate_hz:
        raise _reject(f"the sample rate is {analysis.sample_rate} Hz, below the {t.min_sample_rate_hz} Hz "
                      "needed for intelligible speech",
                      f"取樣率只有 {analysis.sample_rate} Hz，低於清楚語音所需的 {t.min_sample_rate_hz} Hz",
                      "record or export again at 16000 Hz or more", "請以 16000 Hz 以上的取樣率重新錄製或匯出")
    if dur < t.min_duration_s:
        raise _reject(f"the recording is only {dur:.1f} s long (the minimum is {t.min_duration_s:g} s)",
                      f"錄音只有 {dur:.1f} 秒（最短 {t.min_duration_s:g} 秒）",
                      "check that the whole recording was exported", "請確認錄音已完整匯出")
    i = analysis.loudness.integrated_lufs
    if not math.isfinite(i) or i < t.silent_below_lufs:
        level = "digital silence" if not math.isfinite(i) else f"{i:.1f} LUFS"
        level_zh = "完全靜音" if not math.isfinite(i) else f"{i:.1f} LUFS"
        raise _reject(f"the recording is silent or nearly silent ({level}); it is not boosted into hiss",
                      f"錄音沒有聲音或幾乎沒有聲音（{level_zh}），不會把雜音放大後發布",
                      "check that the microphone was on, then record or export again",
                      "請確認錄音時麥克風已開啟，然後重新錄製或匯出")
    spread = level_spread_db(sig, t.silence_threshold_dbfs - 20)
    if spread < t.min_level_spread_db:
        raise _reject(f"no speech: the level hardly changes (within {spread:.1f} dB), as with room tone, "
                      "hum or hiss only",
                      f"聽不到講話：音量幾乎沒有起伏（{spread:.1f} dB 以內），只有環境底噪、嗡嗡聲或嘶嘶聲",
                      "check that this is the right file and that the microphone picked up the speaker",
                      "請確認檔案正確，且麥克風有收到講者的聲音")
    reasons = _warnings(analysis, t, i)
    mode, channel_reasons = _channel_mode(sig, t)
    reasons[0:0] = channel_reasons
    spans = silent_spans(sig, t.silence_threshold_dbfs, t.silence_min_s)
    leading = spans[0][1] if spans and spans[0][0] <= 0.01 else 0.0
    trailing = dur - spans[-1][0] if spans and spans[-1][1] >= dur - 0.01 else 0.0
    clipped = max((c.clipped_share for c in sig.channels), default=0.0)
    return Findings(
        duration_s=round(dur, 6), sample_rate=analysis.sample_rate, channels=analysis.channels,
        codec=probe.codec, integrated_lufs=_finite(i), lra_lu=analysis.loudness.lra_lu,
        true_peak_dbtp=_finite(analysis.loudness.true_peak_dbtp), clipped_share=round(clipped, 6),
        leading_silence_s=round(leading, 3), trailing_silence_s=round(max(0.0, trailing), 3),
        total_silence_s=round(sum(e - s for s, e in spans), 3),
        dc_offset=round(max((c.dc_offset for c in sig.channels), key=abs, default=0.0), 6),
        channel_mode=mode, warnings=tuple(r.text() for r in reasons),
        verdict="warn" if reasons else "accept", reasons=tuple(reasons),
        format_name=probe.format_name, bit_rate=probe.bit_rate,
        header_duration_s=probe.header_duration_s,
        effective_bandwidth_hz=effective_bandwidth_hz(sig, t.bandwidth_drop_db),
        level_spread_db=round(spread, 2),
        channel_correlation=None if sig.correlation is None else round(sig.correlation, 4),
        downmix_loss_db=_downmix_loss_db(sig, mode),
        per_channel=tuple(ChannelFindings(round(c.rms_dbfs, 2), round(c.peak_dbfs, 2), round(c.dc_offset, 6),
                                          round(c.clipped_share, 6)) for c in sig.channels),
        decode_problems=analysis.log.errors[:20], repair=repair)


def _warnings(analysis: Analysis, t: IngestSection, integrated: float) -> list[Reason]:
    sig = analysis.signal
    dur = analysis.duration_s
    out: list[Reason] = []
    clipped = max((c.clipped_share for c in sig.channels), default=0.0)
    if clipped > t.clipped_warn_share:
        out.append(Reason("clipped", f"clipped: {clipped:.2%} of the samples hit full scale, which sounds "
                          "distorted; record with lower input gain next time",
                          f"有削波失真：{clipped:.2%} 的取樣達到滿刻度，聽起來會破音；下次錄音請調低輸入音量"))
    if integrated < t.quiet_below_lufs:
        out.append(Reason("quiet", f"very quiet recording ({integrated:.1f} LUFS): it is raised, but "
                          "background noise rises with it",
                          f"錄音音量很小（{integrated:.1f} LUFS）：會被放大，但背景雜音也會一起變大"))
    spans = silent_spans(sig, t.silence_threshold_dbfs, t.silence_min_s)
    total = sum(e - s for s, e in spans)
    if spans and spans[0][0] <= 0.01 and spans[0][1] > t.long_silence_s:
        out.append(Reason("long-leading-silence", f"{spans[0][1]:.0f} s of silence before the speech starts",
                          f"開頭有 {spans[0][1]:.0f} 秒的靜音"))
    if spans and spans[-1][1] >= dur - 0.01 and dur - spans[-1][0] > t.long_silence_s:
        out.append(Reason("long-trailing-silence", f"{dur - spans[-1][0]:.0f} s of silence at the end",
                          f"結尾有 {dur - spans[-1][0]:.0f} 秒的靜音"))
    if total > t.mostly_silence_share * dur:
        out.append(Reason("mostly-silence", f"mostly silence ({total:.0f} of {dur:.0f} s)",
                          f"大部分是靜音（{dur:.0f} 秒中有 {total:.0f} 秒）"))
    dc = max((c.dc_offset for c in sig.channels), key=abs, default=0.0)
    if abs(dc) > t.dc_offset_warn:
        out.append(Reason("dc-offset", f"DC offset of {dc:+.1%} of full scale (a faulty recorder input); "
                          "it is removed when encoding",
                          f"有直流偏移（滿刻度的 {dc:+.1%}，錄音設備輸入異常），編碼時會去除"))
    bandwidth = effective_bandwidth_hz(sig, t.bandwidth_drop_db)
    if 0 < bandwidth < t.narrowband_below_hz:
        out.append(Reason("narrowband", f"telephone-band sound (nothing above {bandwidth / 1000:.1f} kHz): "
                          "it will sound muffled; use the original recording if there is one",
                          f"只有電話音質（{bandwidth / 1000:.1f} kHz 以上沒有聲音），聽起來會悶；"
                          "如有原始錄音請改用原始檔"))
    if analysis.log.errors:
        n = len(analysis.log.errors)
        out.append(Reason("decode-errors", f"the decoder reported {n} problem(s) ({analysis.log.errors[0]}); "
                          "parts of the recording may be damaged: listen to it",
                          f"解碼時發現 {n} 處問題，部分錄音可能損壞，請試聽確認"))
    return out
