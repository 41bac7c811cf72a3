"""Known bots by user agent, with crawlerdetect (the one module that uses it): the
maintained Python port of JayBizzle's Crawler-Detect patterns (crawlers, spiders, link
checkers, HTTP libraries such as curl, python-requests and boto3). The IAB Podcast
Measurement Technical Guidelines v2.1 ask that known bots be excluded; their own list
(the IAB/ABC International Spiders & Bots List) is licensed, so this open list stands
in for it."""

from __future__ import annotations

from functools import lru_cache

from crawlerdetect import CrawlerDetect

_DETECT = CrawlerDetect()


@lru_cache(maxsize=65536)
def is_bot(user_agent: str) -> bool:
    """Whether ``user_agent`` is a known bot (an empty user agent is not)."""
    return bool(user_agent) and bool(_DETECT.isCrawler(user_agent))
