"""Quality verdict of a decoded source: accept, accept with warnings, or reject.

Pure: works on the :class:`~pipeline.media.ffmpeg.Analysis` of a file and the
thresholds of ``[ingest]``. Reasons are plain words for editors, in English and Chinese.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InputRejected
from ..media.ffmpeg import Analysis, Probe


@dataclass(frozen=True)
class Findings:
    """What the analysis found, as stored in the catalog (JSON-ready values).

    ``channel_mode`` tells the encoder how to make mono: ``mono`` (already), ``mix``
    (average the channels), ``left`` / ``right`` (take the live channel).
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

    def as_dict(self) -> dict:
        from dataclasses import asdict
        return asdict(self)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def assess(analysis: Analysis, probe: Probe, min_duration_s: float,
           silent_below_lufs: float) -> Findings:
    """Judge a decoded source.

    Raises:
        InputRejected: too short, silent or near silent.
    """
    dur = analysis.duration_s
    if dur <= 0:
        raise InputRejected("no audio could be decoded from the file",
                            message_zh="檔案中解不出任何聲音",
                            fix="export the recording again as MP3, WAV or M4A",
                            fix_zh="請重新匯出為 MP3、WAV 或 M4A 檔")
    if dur < min_duration_s:
        raise InputRejected(f"the recording is only {dur:.1f} s long (the minimum is {min_duration_s:g} s)",
                            message_zh=f"錄音只有 {dur:.1f} 秒（最短 {min_duration_s:g} 秒）",
                            fix="check that the whole recording was exported",
                            fix_zh="請確認錄音已完整匯出")
    i = analysis.loudness.integrated_lufs
    if not math.isfinite(i) or i < silent_below_lufs:
        level = "digital silence" if not math.isfinite(i) else f"{i:.1f} LUFS"
        raise InputRejected(f"the recording is silent or nearly silent ({level})",
                            message_zh=f"錄音幾乎沒有聲音（{'完全靜音' if not math.isfinite(i) else f'{i:.1f} LUFS'}）",
                            fix="check that the microphone was on and re-record or re-export",
                            fix_zh="請確認錄音時麥克風已開啟，重新錄製或匯出")
    spans = analysis.silences
    leading = spans[0][1] if spans and spans[0][0] <= 0.01 else 0.0
    trailing = dur - spans[-1][0] if spans and spans[-1][1] >= dur - 0.01 else 0.0
    total = sum(e - s for s, e in spans)
    stats = analysis.stats
    clipped = (stats.overall.peak_count / max(1, stats.samples * max(1, analysis.channels))
               if stats.overall.peak_db > -0.1 else 0.0)
    warnings = []
    if clipped > 0.0005:
        warnings.append(f"clipped: {clipped:.2%} of samples at full scale / 有削波失真")
    if i < -35:
        warnings.append(f"very quiet recording ({i:.1f} LUFS) / 錄音音量很小")
    if total > 0.5 * dur:
        warnings.append(f"mostly silence ({total:.0f} of {dur:.0f} s) / 靜音過多")
    mode = "mono" if analysis.channels == 1 else "mix"
    if analysis.channels == 2 and len(stats.channels) == 2:
        left, right = stats.channels[0].rms_db, stats.channels[1].rms_db
        if right < left - 30 or (not math.isfinite(right) and math.isfinite(left)):
            mode = "left"
            warnings.append("right channel dead; using the left / 右聲道無聲，只用左聲道")
        elif left < right - 30 or (not math.isfinite(left) and math.isfinite(right)):
            mode = "right"
            warnings.append("left channel dead; using the right / 左聲道無聲，只用右聲道")
    return Findings(duration_s=dur, sample_rate=analysis.sample_rate, channels=analysis.channels,
                    codec=probe.codec, integrated_lufs=_finite(i), lra_lu=analysis.loudness.lra_lu,
                    true_peak_dbtp=_finite(analysis.loudness.true_peak_dbtp), clipped_share=clipped,
                    leading_silence_s=leading, trailing_silence_s=trailing, total_silence_s=total,
                    dc_offset=stats.overall.dc_offset, channel_mode=mode, warnings=tuple(warnings))
