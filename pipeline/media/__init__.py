"""Boundary modules for media tools: :mod:`.ffmpeg` (the ffmpeg/ffprobe binaries, via
ffmpeg-python) and :mod:`.tags` (mutagen). Nothing else imports those libraries."""
