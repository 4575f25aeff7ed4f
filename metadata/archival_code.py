"""档号 (archival reference code): parse, check, format, and use as a file name.

Template language (``ArchivalCodeSettings.template``): literal separators with the components
``{fonds}`` 全宗号, ``{category}`` 门类代码, ``{year}`` 年度, ``{retention}`` 保管期限代码,
``{org}`` 机构(问题)代码, ``{volume}`` 案卷号 and ``{item}`` 件号 (页号 in a volume).
``{item}`` is zero-padded to ``item_digits``; ``{item:04d}`` may spell the width out, and then
it must agree with ``item_digits``. Components must be separated by literal text.

    DA/T 22-2015          {fonds}-{category}·{year}-{retention}-{org}-{item:04d}   Z109-WS·2011-Y-BGS-0001
    DA/T 13-2022 按件      {fonds}-{category}·{year}·{retention}·{org}-{item}       Z109-WS·2011·Y·办公室-0001
    DA/T 13-2022 按卷      {fonds}-{category}·{year}·{retention}-{volume}-{item}    J019-ZY·JC·CC·2019·D30-001-001
                          (item_digits = 3)

A 门类代码 may carry lower class levels joined by "·" (DA/T 13-2022: ``ZY·JC·CC``), even where
"·" also separates the 门类代码 from the next component. A 件号 of all zeros is never valid.

"·" is U+00B7 MIDDLE DOT. Lookalikes people type by mistake (・ U+30FB, • U+2022, full-width
hyphens, ...) are reported with their position and a suggested fix; `normalize_lookalikes`
replaces them only when a caller asks for it.
"""

from __future__ import annotations

import dataclasses
import re
import string
import unicodedata
from dataclasses import dataclass

from digitize.errors import BadInput
from digitize.settings import ArchivalCodeSettings

MIDDLE_DOT = "\u00b7"
COMPONENTS = {
    "fonds": "全宗号",
    "category": "门类代码",
    "year": "年度",
    "retention": "保管期限代码",
    "org": "机构(问题)代码",
    "volume": "案卷号",
    "item": "件号",
}

# Characters typed instead of "·" (U+00B7) or "-" (U+002D).
_LOOKALIKE_DOTS = "\u30fb\uff65\u2022\u2027\u2219\u22c5\u0387\u2e31.\uff0e\u3002"
_LOOKALIKE_HYPHENS = "\uff0d\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\u30fc"
LOOKALIKES: dict[str, str] = {
    **{ch: MIDDLE_DOT for ch in _LOOKALIKE_DOTS},
    **{ch: "-" for ch in _LOOKALIKE_HYPHENS},
}
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"}
_WINDOWS_FORBIDDEN = set('<>:"/\\|?*')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
MAX_NAME_BYTES = 255  # ext4, APFS, NTFS (UTF-16 units) all allow at least this many UTF-8 bytes


class ArchivalCodeError(BadInput, ValueError):
    """A template is unusable, or a 档号 does not have the template's structure."""


@dataclass(frozen=True)
class CodeIssue:
    """One problem with a 档号.

    ``code`` is stable for machines: ``lookalike_character``, ``unexpected_whitespace``,
    ``invisible_character``, ``archival_code_template`` or ``archival_code_component``.
    ``position`` is 1-based (as a person counts characters), ``None`` when not about one
    character; ``fix`` is the whole 档号 as it should probably read, when one can be suggested.
    """

    code: str
    message: str
    position: int | None = None
    component: str | None = None
    fix: str | None = None


@dataclass(frozen=True)
class ArchivalCode:
    """A 档号 split into its components (text as written, the 件号 with its zeros)."""

    text: str
    parts: dict[str, str]

    def get(self, name: str) -> str | None:
        return self.parts.get(name)

    @property
    def item(self) -> int | None:
        value = self.parts.get("item")
        return int(value) if value is not None and value.isdigit() else None


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, "unnamed character")
    return f"'{ch}' (U+{ord(ch):04X} {name})"


def find_lookalikes(text: str, allowed: str = "") -> list[CodeIssue]:
    """Characters that look right but are not: lookalike separators, full-width letters and
    digits, whitespace and invisible characters. Characters in ``allowed`` are never flagged."""
    issues = []
    fix = normalize_lookalikes(text, allowed)
    for index, ch in enumerate(text):
        if ch in allowed:
            continue
        position = index + 1
        if ch in LOOKALIKES:
            issues.append(
                CodeIssue(
                    "lookalike_character",
                    f"{_describe(ch)} at position {position} should be '{LOOKALIKES[ch]}' "
                    f"(U+{ord(LOOKALIKES[ch]):04X})",
                    position,
                    fix=fix,
                )
            )
        elif "\uff01" <= ch <= "\uff5e":
            ascii_ch = chr(ord(ch) - 0xFEE0)
            issues.append(
                CodeIssue(
                    "lookalike_character",
                    f"full-width {_describe(ch)} at position {position} should be '{ascii_ch}'",
                    position,
                    fix=fix,
                )
            )
        elif ch.isspace():
            issues.append(
                CodeIssue(
                    "unexpected_whitespace",
                    f"whitespace {_describe(ch)} at position {position} should be removed",
                    position,
                    fix=fix,
                )
            )
        elif ch in _INVISIBLE:
            issues.append(
                CodeIssue(
                    "invisible_character",
                    f"invisible {_describe(ch)} at position {position} should be removed",
                    position,
                    fix=fix,
                )
            )
    return issues


def normalize_lookalikes(text: str, allowed: str = "") -> str:
    """The 档号 with the characters `find_lookalikes` reports replaced or removed.

    Call it only where the user asked for normalisation, and report that it happened.
    """
    out = []
    for ch in text:
        if ch in allowed:
            out.append(ch)
        elif ch in LOOKALIKES:
            out.append(LOOKALIKES[ch])
        elif "\uff01" <= ch <= "\uff5e":
            out.append(chr(ord(ch) - 0xFEE0))
        elif ch.isspace() or ch in _INVISIBLE:
            continue
        else:
            out.append(ch)
    return "".join(out)


class CodeTemplate:
    """A compiled 档号 template with its component rules."""

    def __init__(self, settings: ArchivalCodeSettings):
        self.template = settings.template
        self.item_digits = settings.item_digits
        self.fields: list[str] = []
        self.literals: list[str] = []  # literals[i] precedes fields[i]; one trailing literal
        for literal, name, spec, conversion in string.Formatter().parse(settings.template):
            self.literals.append(literal)
            if name is None:
                break
            self._add_field(name, spec, conversion)
        else:
            self.literals.append("")
        if not self.fields:
            raise ArchivalCodeError(f"template {self.template!r} names no components")
        if "item" not in self.fields:
            raise ArchivalCodeError(f"template {self.template!r} has no {{item}} (件号)")
        if any(not lit for lit in self.literals[1:-1]):
            raise ArchivalCodeError(f"template {self.template!r}: components must be separated by text")
        self.separators = "".join(sorted(set("".join(self.literals))))
        lenient = f"[^{re.escape(self.separators)}]+"
        # A multi-level 门类代码 (ZY·JC·CC) keeps its inner dots; the regex backtracks to give
        # the components after it their share.
        multi_level = f"{lenient}(?:{re.escape(MIDDLE_DOT)}{lenient})*"
        pattern = "".join(
            re.escape(lit) + (f"(?P<{name}>{multi_level if name == 'category' else lenient})" if name else "")
            for lit, name in zip(self.literals, [*self.fields, None])
        )
        self._regex = re.compile(pattern)
        self._rules = {
            "fonds": settings.fonds_pattern,
            "category": settings.category_pattern,
            "year": r"\d{4}",
            "retention": settings.retention_pattern,
            "org": settings.org_pattern,
            "volume": settings.volume_pattern,
            "item": rf"(?!0+$)\d{{{settings.item_digits}}}",  # 0000 is no 件号
        }
        for name, rule in self._rules.items():
            try:
                re.compile(rule)
            except re.error as exc:
                raise ArchivalCodeError(f"{name} pattern {rule!r} is not a valid expression: {exc}") from None

    def _add_field(self, name: str, spec: str | None, conversion: str | None) -> None:
        if name not in COMPONENTS:
            raise ArchivalCodeError(
                f"template {self.template!r}: unknown component {{{name}}}; known: {', '.join(COMPONENTS)}"
            )
        if name in self.fields:
            raise ArchivalCodeError(f"template {self.template!r} names {{{name}}} twice")
        if conversion or (spec and name != "item"):
            raise ArchivalCodeError(f"template {self.template!r}: only {{item}} takes a format (0Nd)")
        if spec:
            match = re.fullmatch(r"0(\d+)d", spec)
            if not match:
                raise ArchivalCodeError(f"template {self.template!r}: item format must be 0Nd, not {spec!r}")
            if int(match.group(1)) != self.item_digits:
                raise ArchivalCodeError(
                    f"template {self.template!r} pads 件号 to {match.group(1)} digits "
                    f"but item_digits is {self.item_digits}"
                )
        self.fields.append(name)

    def example(self) -> str:
        sample = {"fonds": "Z109", "category": "WS", "year": "2011", "retention": "Y", "org": "BGS", "volume": "001"}
        return self.format(**{k: v for k, v in sample.items() if k in self.fields}, item=1)

    def parse(self, text: str) -> ArchivalCode:
        """Split a 档号 by the template's structure; component rules are checked by `check`."""
        match = self._regex.fullmatch(text)
        if not match:
            raise ArchivalCodeError(
                f"档号 {text!r} does not follow the template {self.template} (e.g. {self.example()})"
            )
        return ArchivalCode(text, {name: match.group(name) for name in self.fields})

    def format(self, **parts: str | int) -> str:
        """Build a 档号 from its components; ``item`` may be an int (zero-padded)."""
        missing = [name for name in self.fields if name not in parts]
        if missing:
            raise ArchivalCodeError(f"missing components for the 档号: {', '.join(missing)}")
        out = []
        for lit, name in zip(self.literals, [*self.fields, None]):
            out.append(lit)
            if name == "item" and isinstance(parts[name], int):
                out.append(f"{parts[name]:0{self.item_digits}d}")
            elif name:
                out.append(str(parts[name]))
        return "".join(out)

    def check(self, text: str) -> list[CodeIssue]:
        """Everything wrong with a 档号: stray characters, then structure, then the component
        rules. Structure and components are judged on the text with lookalikes fixed, so one
        wrong dot is reported once, not also as a broken structure. Every issue that can be
        fixed carries the same suggestion: the 档号 with all fixable issues fixed."""
        issues = find_lookalikes(text, allowed=self.separators)
        working = normalize_lookalikes(text, allowed=self.separators) if issues else text
        try:
            code = self.parse(working)
        except ArchivalCodeError as exc:
            return [*issues, CodeIssue("archival_code_template", str(exc))]
        fixed = dict(code.parts)
        broken: list[tuple[str, str, str | None]] = []
        for name in self.fields:
            value = code.parts[name]
            if re.fullmatch(self._rules[name], value):
                continue
            candidate = self._component_fix(name, value)
            if candidate is not None:
                fixed[name] = candidate
            broken.append((name, value, candidate))
        suggestion = self.format(**fixed)
        issues = [dataclasses.replace(issue, fix=suggestion) for issue in issues]
        for name, value, candidate in broken:
            issues.append(
                CodeIssue(
                    "archival_code_component",
                    f"{COMPONENTS[name]} ({name}) {value!r} does not match {self._rules[name]}",
                    component=name,
                    fix=suggestion if candidate is not None else None,
                )
            )
        return issues

    def _component_fix(self, name: str, value: str) -> str | None:
        if name == "item" and value.isdigit() and len(value) < self.item_digits:
            candidate = value.zfill(self.item_digits)
        elif value.upper() != value:
            candidate = value.upper()
        else:
            return None
        return candidate if re.fullmatch(self._rules[name], candidate) else None


def retention_code_for(term: str) -> str | None:
    """保管期限 term → its 档号 code: 永久 → Y, 定期30年 / 30年 → D30; None for others (长期, 短期)."""
    if term == "永久":
        return "Y"
    match = re.fullmatch(r"(?:定期)?(\d+)年", term)
    return f"D{int(match.group(1))}" if match else None


def code_parts(
    catalogue: dict[str, str], archival_code: str, template: CodeTemplate, retention_terms: tuple[str, ...]
) -> dict[str, str]:
    """DA/T 46 档号 components (M9-M20) of a record, by element name: from its parsed 档号, else
    the catalogue's columns (keyed by DA/T names). 保管期限 is the catalogue's term, else the
    first of `retention_terms` whose code the 档号 carries."""
    try:
        parsed = template.parse(archival_code).parts
    except ArchivalCodeError:
        parsed = {}
    code = parsed.get("retention")
    term = catalogue.get("保管期限") or next((t for t in retention_terms if code and retention_code_for(t) == code), "")
    values = {
        "全宗号": parsed.get("fonds") or catalogue.get("全宗号"),
        "年度": parsed.get("year") or catalogue.get("年度"),
        "保管期限": term,
        "机构或问题": parsed.get("org") or catalogue.get("机构或问题"),
        "类别号": parsed.get("category") or catalogue.get("门类代码"),
        "室编案卷号": parsed.get("volume") or catalogue.get("案卷号"),
        "室编件号": parsed.get("item") or catalogue.get("件号"),
    }
    return {name: value for name, value in values.items() if value}


def archival_code_filename(code: str) -> str:
    """A file or folder name for a 档号 that is valid on Windows, macOS and Linux.

    Keeps "·" and Chinese characters; applies NFC (macOS stores names decomposed otherwise);
    replaces characters Windows forbids and control characters with "_"; removes trailing dots
    and spaces; prefixes Windows device names (CON, COM1, ...) with "_". Raises ValueError when
    nothing usable is left or the name is longer than 255 UTF-8 bytes (a cut name would no
    longer be unique).
    """
    name = unicodedata.normalize("NFC", code)
    name = "".join("_" if ch in _WINDOWS_FORBIDDEN or unicodedata.category(ch) == "Cc" else ch for ch in name)
    name = name.strip().rstrip(". ")
    if not name or set(name) == {"_"}:
        raise ValueError(f"档号 {code!r} gives no usable file name")
    if name.split(".")[0].upper() in _WINDOWS_RESERVED:
        name = "_" + name
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise ValueError(f"档号 {code!r} is longer than {MAX_NAME_BYTES} bytes as a file name")
    return name
