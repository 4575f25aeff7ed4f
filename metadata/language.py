"""The language of a document (DA/T 46 M44 语种), in ISO 639-2/B codes.

A document's language is what the catalogue says (语种 column), else what its own OCR text
shows: each language the OCR could read counts when its script makes up a real share of the
letters read. The OCR language packs alone say only what the engine was asked to look for, so
they never decide. No text and no catalogue value means unknown (an empty list).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# ISO 639-2/T codes that differ from the /B codes (Tesseract language names use /T).
_ISO639_T_TO_B = {
    "sqi": "alb",
    "hye": "arm",
    "eus": "baq",
    "mya": "bur",
    "zho": "chi",
    "ces": "cze",
    "nld": "dut",
    "fra": "fre",
    "kat": "geo",
    "deu": "ger",
    "ell": "gre",
    "isl": "ice",
    "mkd": "mac",
    "mri": "mao",
    "msa": "may",
    "fas": "per",
    "ron": "rum",
    "slk": "slo",
    "bod": "tib",
    "cym": "wel",
}
_TESSERACT_NON_LANGUAGES = {"osd", "equ"}

# How catalogues write 语种 -> ISO 639-2/B.
CATALOGUE_NAMES = {
    **{name: "chi" for name in ("中文", "汉语", "汉文", "汉", "中", "简体中文", "繁体中文", "zh", "zho", "chi")},
    **{name: "eng" for name in ("英文", "英语", "en", "eng")},
    **{name: "jpn" for name in ("日文", "日语", "ja", "jpn")},
    **{name: "kor" for name in ("朝鲜文", "韩文", "朝鲜语", "韩语", "ko", "kor")},
    **{name: "rus" for name in ("俄文", "俄语", "ru", "rus")},
    **{name: "fre" for name in ("法文", "法语", "fr", "fre", "fra")},
    **{name: "ger" for name in ("德文", "德语", "de", "ger", "deu")},
    **{name: "mon" for name in ("蒙古文", "蒙文", "mn", "mon")},
    **{name: "tib" for name in ("藏文", "bo", "tib", "bod")},
    **{name: "uig" for name in ("维吾尔文", "ug", "uig")},
}
# RFC 5646 tags for the PDF's /Lang and XMP dc:language.
LANGUAGE_TAGS = {"chi": "zh", "eng": "en", "jpn": "ja", "kor": "ko", "rus": "ru", "fre": "fr", "ger": "de"}

_SCRIPTS = {
    "han": re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]"),
    "kana": re.compile(r"[\u3040-\u30ff]"),
    "hangul": re.compile(r"[\uac00-\ud7af\u1100-\u11ff]"),
    "cyrillic": re.compile(r"[\u0400-\u04ff]"),
    "latin": re.compile(r"[A-Za-z\u00c0-\u024f]"),
}
_LANGUAGE_SCRIPT = {"chi": "han", "jpn": "kana", "kor": "hangul", "rus": "cyrillic", "ukr": "cyrillic"}
MIN_SHARE = 0.2  # a language's script must be at least this share of the letters read ...
MIN_LETTERS = 20  # ... and at least this many letters
_SEPARATORS = re.compile(r"[\s;；,，、/]+")


def languages_from_tesseract(languages: str) -> list[str]:
    """ISO 639-2/B codes from a Tesseract language string: "chi_sim+eng" -> ["chi", "eng"]."""
    codes: list[str] = []
    for name in languages.split("+"):
        base = name.strip().split("_")[0].lower()
        if len(base) != 3 or not base.isalpha() or base in _TESSERACT_NON_LANGUAGES:
            continue  # script models ("script/HanS"), orientation detection, equations
        code = _ISO639_T_TO_B.get(base, base)
        if code not in codes:
            codes.append(code)
    return codes


def script_of(language: str) -> str:
    """The script a language is written in, as `_SCRIPTS` names it (Latin by default)."""
    return _LANGUAGE_SCRIPT.get(language, "latin")


def languages_in_text(text: str, candidates: Iterable[str]) -> list[str]:
    """The candidate languages whose script makes up at least MIN_SHARE of the letters of
    `text` (and MIN_LETTERS), most frequent first. Languages sharing a script cannot be told
    apart, so only the first candidate of each script is considered."""
    counts = {name: len(pattern.findall(text)) for name, pattern in _SCRIPTS.items()}
    total = sum(counts.values())
    if total == 0:
        return []
    found: dict[str, int] = {}
    scripts_seen: set[str] = set()
    for language in candidates:
        script = script_of(language)
        if script in scripts_seen:
            continue
        scripts_seen.add(script)
        letters = counts[script]
        if letters >= MIN_LETTERS and letters >= MIN_SHARE * total:
            found[language] = letters
    return sorted(found, key=lambda code: -found[code])


def catalogue_languages(value: str) -> tuple[list[str], list[str]]:
    """(ISO 639-2/B codes, words not understood) of a catalogue 语种 value such as "中文、英文"."""
    codes: list[str] = []
    unknown: list[str] = []
    for word in _SEPARATORS.split(value.strip()):
        if not word:
            continue
        code = CATALOGUE_NAMES.get(word) or CATALOGUE_NAMES.get(word.lower())
        if code is None:
            unknown.append(word)
        elif code not in codes:
            codes.append(code)
    return codes, unknown


def language_tag(codes: list[str]) -> str | None:
    """RFC 5646 tag of the first language, for PDF /Lang and XMP; None when unknown."""
    return LANGUAGE_TAGS.get(codes[0]) if codes else None
