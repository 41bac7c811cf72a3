"""Controlled vocabularies: lesson categories, dialects (ISO 639-3), listener groups.

Input accepts the English codes and the Chinese names, in traditional or simplified
characters (design.md, "Domain facts"). Output always uses the codes.
"""

from __future__ import annotations

import unicodedata

CATEGORIES: tuple[str, ...] = ("theory", "party-spirit", "policy", "skills", "red-culture", "other")

CATEGORY_NAMES_ZH: dict[str, str] = {
    "theory": "理論教育",
    "party-spirit": "黨性教育",
    "policy": "政策宣講",
    "skills": "技能培訓",
    "red-culture": "紅色文化",
    "other": "其他",
}

_CATEGORY_ALIASES: dict[str, tuple[str, ...]] = {
    "theory": ("理論教育", "理论教育", "理論", "理论", "theory-education"),
    "party-spirit": ("黨性教育", "党性教育", "黨性", "党性", "partyspirit", "party_spirit"),
    "policy": ("政策宣講", "政策宣讲", "政策", "policy-briefing"),
    "skills": ("技能培訓", "技能培训", "技能", "skill", "training"),
    "red-culture": ("紅色文化", "红色文化", "redculture", "red_culture"),
    "other": ("其他", "其它"),
}

#: ISO 639-3 codes of the varieties the fleet uses.
DIALECTS: tuple[str, ...] = ("cdo", "cmn", "nan", "hak", "yue")

DIALECT_NAMES_ZH: dict[str, str] = {
    "cdo": "福州話", "cmn": "普通話", "nan": "閩南話", "hak": "客家話", "yue": "粵語",
}

_DIALECT_ALIASES: dict[str, tuple[str, ...]] = {
    "cdo": ("福州話", "福州话", "連江話", "连江话", "閩東話", "闽东话", "閩東語", "闽东语",
            "福州語", "福州语", "平講話", "平讲话", "zh-cdo", "fuzhou", "foochow", "mindong",
            "min-dong"),
    "cmn": ("普通話", "普通话", "國語", "国语", "華語", "华语", "官話", "官话", "zh-cmn",
            "mandarin", "putonghua", "zh", "zho", "chi"),
    "nan": ("閩南話", "闽南话", "閩南語", "闽南语", "台語", "台语", "臺語", "廈門話", "厦门话",
            "zh-nan", "minnan", "min-nan", "hokkien", "taiwanese"),
    "hak": ("客家話", "客家话", "客語", "客语", "zh-hak", "hakka"),
    "yue": ("粵語", "粤语", "廣東話", "广东话", "白話", "白话", "zh-yue", "cantonese"),
}

#: Listener groups of the fleet registry.
GROUPS: tuple[str, ...] = ("fisher", "elderly", "mobility", "general")

_GROUP_ALIASES: dict[str, tuple[str, ...]] = {
    "fisher": ("漁民", "渔民", "fishers", "fisherman", "fishermen"),
    "elderly": ("老年", "老年人", "老人", "長者", "长者", "older"),
    "mobility": ("行動不便", "行动不便"),
    "general": ("一般", "普通黨員", "普通党员"),
}


def _key(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower().replace(" ", "")


def _index(aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    table: dict[str, str] = {}
    for code, names in aliases.items():
        table[_key(code)] = code
        for name in names:
            table[_key(name)] = code
    return table


_CATEGORY_INDEX = _index(_CATEGORY_ALIASES)
_DIALECT_INDEX = _index(_DIALECT_ALIASES)
_GROUP_INDEX = _index(_GROUP_ALIASES)


def category_code(text: str | None) -> str | None:
    """Map a category name (code or Chinese alias, either script) to its code, or None."""
    return _CATEGORY_INDEX.get(_key(text)) if text else None


def dialect_code(text: str | None) -> str | None:
    """Map a dialect name (ISO 639-3 code, BCP 47 extlang or Chinese name) to its code, or None."""
    return _DIALECT_INDEX.get(_key(text)) if text else None


def group_code(text: str | None) -> str | None:
    """Map a listener-group name to its code, or None."""
    return _GROUP_INDEX.get(_key(text)) if text else None


def accepted_categories() -> str:
    """A one-line list of accepted category values, for error messages."""
    return ", ".join(f"{c} ({CATEGORY_NAMES_ZH[c]})" for c in CATEGORIES)


def accepted_dialects() -> str:
    """A one-line list of accepted dialect values, for error messages."""
    return ", ".join(f"{c} ({DIALECT_NAMES_ZH[c]})" for c in DIALECTS)
