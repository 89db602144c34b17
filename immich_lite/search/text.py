"""Text as search sees it: accent/case folding, trigrams, words. Pure functions; SQLite gets `fold` as immich_fold.

One `fold` serves the index (what gets indexed), the queries (what gets looked up) and SQL's exact checks
(`immich_fold(col) LIKE ...`), so the three can never disagree about what "matches" means. It mirrors what
upstream gets from Postgres' `f_unaccent(...) ILIKE`: diacritics off Latin, Greek and Cyrillic letters, the
unaccent rules' ligatures and special letters, then case folding. Other scripts keep their marks (Japanese
dakuten change the word) and Hangul stays composed.
"""
from __future__ import annotations

import re
import unicodedata

_SPECIAL = str.maketrans({
    "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D",
    "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "ł": "l", "Ł": "L", "ı": "i", "ŀ": "l", "Ŀ": "L", "ħ": "h", "Ħ": "H",
    "ŧ": "t", "Ŧ": "T", "ĸ": "q", "ŉ": "n", "ſ": "s", "ƒ": "f", "ĳ": "ij", "Ĳ": "IJ",
})


def _strips_marks(base: str) -> bool:
    o = ord(base)
    return o < 0x530 or 0x1E00 <= o <= 0x1FFF  # Latin, Greek, Cyrillic, Armenian; Latin/Greek extended


def _fold_slow(value: str) -> str:
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", value.translate(_SPECIAL)):
        if out and unicodedata.combining(ch) and _strips_marks(out[-1]):
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out)).casefold()


# Latin, Greek and Cyrillic letters and the combining diacritics, folded one by one: text made only of those
# (most non-ASCII captions and names) then folds with one str.translate (C) instead of a normalisation pass.
_FAST = {c: _fold_slow(chr(c)) for c in range(0x80, 0x530) if _fold_slow(chr(c)) != chr(c)}
_FAST.update({c: "" for c in range(0x300, 0x530) if unicodedata.combining(chr(c))})


def fold(value: str | None) -> str | None:
    """Lower-cased, accent-free form used for every comparison search makes."""
    if value is None:
        return None
    if value.isascii():
        return value.lower()
    if max(value) < "\u0530":
        return value.translate(_FAST).lower()
    return _fold_slow(value)


def trigrams(folded: str) -> set[str]:
    """The character trigrams of a folded text, as the index's `tri` tokenizer cuts them."""
    return {folded[i:i + 3] for i in range(len(folded) - 2)}


def like_literals(folded: str) -> list[str]:
    """The literal runs of an ILIKE pattern body (upstream passes the term unescaped: `%` and `_` are wildcards,
    a backslash escapes the next character)."""
    runs, cur, i = [], [], 0
    while i < len(folded):
        ch = folded[i]
        if ch == "\\" and i + 1 < len(folded):
            cur.append(folded[i + 1])
            i += 2
            continue
        if ch in "%_":
            runs.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    runs.append("".join(cur))
    return [r for r in runs if r]


def contains_pattern(folded: str) -> str:
    """`%term%` for `immich_fold(col) LIKE ? ESCAPE '\\'`, the term's own wildcards kept as upstream's ILIKE does."""
    if folded.endswith("\\") and not folded.endswith("\\\\"):
        folded += "\\"  # a trailing lone backslash escapes nothing: make it a literal one
    return f"%{folded}%"


def _is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (0x3040 <= o <= 0x30FF or 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xAC00 <= o <= 0xD7AF
            or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FA1F)


_WORD = re.compile(r"[^\W_]+")


def words(folded: str) -> list[str]:
    """Words of a folded text: runs of letters and digits; CJK runs as overlapping bigrams (a lone character as
    itself), as upstream's tokenizeForSearch cuts them."""
    out: list[str] = []
    for run in _WORD.findall(folded):
        start = 0
        for i in range(len(run) + 1):
            boundary = i == len(run) or (i > start and _is_cjk(run[i]) != _is_cjk(run[start]))
            if not boundary:
                continue
            part = run[start:i]
            if _is_cjk(part[0]):
                out.extend([part] if len(part) == 1 else [part[k:k + 2] for k in range(len(part) - 1)])
            else:
                out.append(part)
            start = i
    return out


def sort_key(value: str) -> tuple[str, str, str]:
    """Orders strings as upstream's Postgres (en-US collation) lists them: letters and digits first, ignoring case,
    accents and punctuation ('iPhone 7' < 'NIKON D700', 'Île-de-France' < 'Marrakesh-Safi', 'State of Berlin' <
    'St.-Petersburg'), then by the folded and the exact text."""
    folded = fold(value) or ""
    return "".join(_WORD.findall(folded)), folded, value
