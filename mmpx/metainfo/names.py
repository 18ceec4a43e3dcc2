"""Keypoint names: their words, a key that ignores spelling and side, and left/right partners from the names."""

from __future__ import annotations

import re
from collections.abc import Sequence

_SIDE_WORDS = {"left": "left", "l": "left", "right": "right", "r": "right"}
_OTHER_SIDE = {"left": "right", "right": "left"}
# MMPose's animal files abbreviate the limb after the side: L_F_Paw is the left front paw, R_B_Paw the right back
_LIMB_LETTERS = {"f": "front", "b": "back"}
# words: camelCase parts, runs of capitals, numbers, and runs of any other letters (kept, never dropped)
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+|[^\W\d_A-Za-z]+")
# a side glued to the next word, as DeepLabCut projects write them: leftear, rightpaw, RIGHTHIP, Leftear
_GLUED_SIDE = re.compile(r"(left|right)([a-z]{2,})")


def name_words(name: str) -> tuple[str | None, list[str]]:
    """The one reading of a keypoint name that swaps and keypoint mapping share: ``(side, other words)``.

    ``side`` is ``'left'``, ``'right'`` or None, from the first side word anywhere in the name (``left``,
    ``right``, or ``L``/``R`` beside another word); the other words are lower case, in order, with MMPose's limb
    letters spelled out in a name with a side (``F`` front, ``B`` back). ``L_Eye``, ``left_eye``, ``Eye_Left``,
    ``eyeL``, ``LeftEye`` and ``lefteye`` (a side glued on, as DeepLabCut projects write it) all read as
    ``('left', ['eye'])``; ``L_F_Paw`` as ``('left', ['front', 'paw'])``.
    """
    words = [part for word in _WORD.findall(name) for part in _unglue(word)]
    for i, word in enumerate(words):
        if word.lower() in _SIDE_WORDS and (len(word) > 1 or len(words) > 1):
            rest = [w.lower() for w in words[:i] + words[i + 1:]]
            return _SIDE_WORDS[word.lower()], [_LIMB_LETTERS.get(w, w) for w in rest]
    return None, [w.lower() for w in words]


def _unglue(word: str) -> list[str]:
    glued = _GLUED_SIDE.fullmatch(word.lower())  # _WORD already split camelCase: a word is in one case here
    return list(glued.groups()) if glued else [word]


def name_key(name: str, side: str | None = None) -> str:
    """A keypoint name as compared across spellings: the side first, then the other words, no separators
    (``L_Eye``, ``left-eye`` and ``Eye_Left`` all give ``lefteye``). ``side`` replaces the name's own side (the
    key of its mirror partner)."""
    own, words = name_words(name)
    return (side or own or "") + "".join(words)


def side_of(name: str) -> str | None:
    return name_words(name)[0]


def infer_swaps(names: Sequence[str]) -> dict[str, str]:
    """Left/right partners among ``names``: ``{'left-front-tire': 'right-front-tire', ...}`` (both ways).

    A name's partner is the one name whose :func:`name_key` is its own with the other side (``L_Eye`` and
    ``R_Eye``, ``eyeL`` and ``eyeR``); a left name without its right partner, or with several, has no swap.
    """
    by_key: dict[str, list[str]] = {}
    for name in names:
        by_key.setdefault(name_key(name), []).append(name)
    swaps = {}
    for name in names:
        side = side_of(name)
        partners = by_key.get(name_key(name, _OTHER_SIDE[side]), []) if side else []
        if len(partners) == 1 and partners[0] != name:
            swaps[name] = partners[0]
    return swaps
