"""dangke: the audio content pipeline for "Party lessons on the go" (黨課隨身聽).

Stages, each a function from catalog state to new state, data flowing one way:
``ingest`` -> ``encode`` -> ``plan`` / ``schedule`` (pure, in :mod:`playlists`) -> ``publish``.
"""

__version__ = "0.1.0"
