"""What the devices' play logs say, as the quarterly planner uses it (``[plan]
use_listens = true``; pure: facts in, planner inputs and explanations out).

- **No repeat of what was heard.** For a device whose card came back with a play log,
  the lessons it already played fully (listened to at least half, or counted completed)
  are what the planner avoids as repeats, in any earlier quarter; a lesson it carried
  but did not finish is not a repeat and may stay on the card. A device without a log
  keeps the default: what it carried last quarter is avoided.
- **Completed lessons first.** A lesson's completion (the share of its rated plays,
  fleet-wide, that were completed; at least :data:`MIN_RATED` of them) raises its value
  by up to :data:`COMPLETION_BONUS` (50 % for a lesson every listener finished).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

#: a lesson's value is multiplied by 1 + this x its completion share
COMPLETION_BONUS = 0.5
#: rated plays a lesson needs before its completion share counts
MIN_RATED = 3


@dataclass(frozen=True)
class DeviceListening:
    """One device: whether its card came back last quarter with a play log
    (``reported``) and the lessons it has played fully so far."""

    device_id: str
    reported: bool
    played_fully: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ListeningForPlan:
    """The facts the planner takes: per device (:class:`DeviceListening`), and per
    lesson ``(lesson_id, completed plays, rated plays)``."""

    quarter: str
    devices: tuple[DeviceListening, ...] = ()
    lessons: tuple[tuple[str, int, int], ...] = ()

    def device(self, device_id: str) -> DeviceListening | None:
        for d in self.devices:
            if d.device_id == device_id:
                return d
        return None


def completion(facts: ListeningForPlan) -> tuple[tuple[str, float], ...]:
    """``(lesson_id, completion share)`` of the lessons with enough rated plays."""
    return tuple((lid, done / rated) for lid, done, rated in sorted(facts.lessons) if rated >= MIN_RATED)


def value_factor(share: float) -> float:
    """The planner's value multiplier of a lesson completed at ``share`` (0..1)."""
    return 1.0 + COMPLETION_BONUS * max(0.0, min(1.0, share))


def heard(previous: Mapping[str, Sequence[str]], facts: ListeningForPlan) -> dict[str, tuple[str, ...]]:
    """Per device, the lessons the planner avoids as repeats: the played-fully lessons of
    a device that reported, else what it carried last quarter (``previous``)."""
    out = {d: tuple(ids) for d, ids in previous.items()}
    for d in facts.devices:
        if d.reported:
            out[d.device_id] = tuple(sorted(d.played_fully))
    return out


def repeats(lesson_ids: Iterable[str], device: DeviceListening | None) -> list[str]:
    """The lessons of a playlist that the device already played fully (an independent
    check of the preference: ids in, offending ids out, sorted)."""
    if device is None:
        return []
    return sorted(set(lesson_ids) & device.played_fully)


def plan_notes(facts: ListeningForPlan, previous: Mapping[str, Sequence[str]],
               titles: Mapping[str, str] | None = None, limit: int = 3) -> list[str]:
    """The plan's explanation of what the play logs changed."""
    titles = titles or {}
    reported = [d for d in facts.devices if d.reported]
    avoided = sum(len(d.played_fully) for d in reported)
    may_stay = sum(len(set(previous.get(d.device_id, ())) - d.played_fully) for d in reported)
    notes = [f"listening (use_listens): {len(reported)} device(s) reported play logs for {facts.quarter}: the "
             f"{avoided} lesson(s) they played fully are avoided as repeats, {may_stay} carried but not finished "
             "may stay; devices without a log avoid what they carried last quarter"]
    shares = sorted(completion(facts), key=lambda x: (-x[1], x[0]))
    if shares:
        best = ", ".join(f"{titles.get(l, l)} ({100 * s:.0f}%)" for l, s in shares[:limit])
        notes.append(f"listening (use_listens): lessons completed more often are preferred (up to "
                     f"+{100 * COMPLETION_BONUS:.0f}% value), e.g. {best}")
    return notes
