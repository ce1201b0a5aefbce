"""When two names are the same name: the one rule every namer and every update uses.

Names are compared by their words, lower-cased and made singular, and by their Snowball
stems ('superconducting' is taken by 'superconductivity', 'Scaling Laws' is 'scaling law');
a multi-word name also takes its acronym ('information retrieval' takes 'IR').
"""

from __future__ import annotations

import functools
import re

# Words as the phrase vocabulary cuts them: hyphenated and apostrophe forms stay one word.
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


def norm_form(phrase: str) -> str:
    """Crude singular form, so 'scaling law' and 'scaling laws' count as one name."""
    return " ".join(
        w[:-1] if w.endswith("s") and len(w) > 3 and not w.endswith("ss") else w
        for w in phrase.split()
    )


@functools.lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def name_words(name: str) -> list[str]:
    """The name's words, lower case and singular; punctuation and markup dropped."""
    return norm_form(" ".join(_WORD.findall(name.lower()))).split()


def name_key(name: str) -> str:
    """The stem key: two names with the same key say the same ("" for a name of no words)."""
    return " ".join(_stemmer().stemWords(name_words(name)))


def name_keys(name: str) -> set[str]:
    """Every form under which a name counts as taken: its words, its stem key, and the
    acronym of a multi-word name. Two names are the same when their keys intersect."""
    words = name_words(name)
    keys = {" ".join(words), "stem:" + name_key(name)}
    if len(words) > 1:
        keys.add("".join(w[0] for w in words))
    return keys


def same_name(a: str, b: str) -> bool:
    return bool(name_keys(a) & name_keys(b))
