"""Pure planning: quarterly device playlists and daily broadcast schedules.

Functions over plain data (:mod:`pipeline.models`), no ffmpeg, no network, no files.
Selection uses OR-Tools CP-SAT through :mod:`playlists.solver`, the one module that
imports it. Results are deterministic for the same inputs, whatever their order.
"""
