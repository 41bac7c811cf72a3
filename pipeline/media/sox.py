"""The one boundary to the sox binary: decoding AMR with the opencore-amr decoders.

Debian's ffmpeg decodes AMR with its own ``amrnb``/``amrwb`` decoders, which do not
implement DTX: every SID (comfort noise) and NO_DATA frame is dropped, so the pauses of
a phone memo recorded with DTX collapse. sox's AMR formats (``libsox-fmt-base``) decode
through opencore-amrnb / opencore-amrwb (3GPP TS 26.073 / 26.173 reference decoders),
which turn those frames into comfort noise of the right length.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import ToolError, ToolInterrupted

SOX = "sox"


def available() -> bool:
    """True when sox is on PATH."""
    return bool(shutil.which(SOX))


def decode_amr(src: Path, dest: Path, wide: bool, timeout_s: float) -> None:
    """Decode the AMR file ``src`` (RFC 4867 storage format; AMR-WB when ``wide``) to
    16-bit FLAC ``dest`` at its own rate (8000 or 16000 Hz), losslessly.

    Raises:
        ToolInterrupted: sox was killed by a signal.
        ToolError: sox is missing, failed or timed out.
    """
    args = [SOX, "-V1", "-t", "amr-wb" if wide else "amr-nb", str(src), "-t", "flac", "-b", "16", str(dest)]
    try:
        proc = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s,
                              check=False, start_new_session=True)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"sox did not finish within {timeout_s:.0f} s", path=src) from exc
    except FileNotFoundError as exc:
        raise ToolError("sox is not installed", path=src,
                        fix="install it (apt-get install sox libsox-fmt-base libopencore-amrnb0 "
                            "libopencore-amrwb0, or sh scripts/setup.sh)") from exc
    if proc.returncode < 0:
        raise ToolInterrupted(f"sox was stopped by signal {-proc.returncode}", path=src, fix="run it again")
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.decode("utf-8", "replace").strip().splitlines()[-2:])
        raise ToolError(f"sox cannot decode it: {tail or f'exit {proc.returncode}'}", path=src,
                        fix="the AMR file may be damaged")
