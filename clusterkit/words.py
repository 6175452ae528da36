"""Words of a prompt in any language, for keywords: segmentation where a script does not separate
words with spaces, and each language's stop words.

- **Chinese** (runs of Han characters without kana): segmented into words by jieba's dictionary
  (``rjieba``, the Rust port of jieba, MIT), as BERTopic's users add by hand.
- **Japanese** (runs holding kana): morphological analysis by Janome (pure Python, Apache-2.0, its
  IPADIC dictionary bundled); its nouns, verbs and adjectives are kept.
- **Thai** (no segmenter shipped): character bigrams of each run.
- **Spaced scripts** (Latin, Cyrillic, Greek, Arabic, Hangul, ...): words, lower-cased.

Stop words: scikit-learn's English list and,
for every other language the multilingual model covers, the stopwords-iso list (``stopwordsiso``,
MIT), each with its language's request words, greetings and thanks ("please", "hi", "спасибо",
"你好", ...). A Cyrillic, Arabic, Hangul or Han word is checked against its script's languages' lists; a
Latin word against English and against the Latin-script language whose stop words the prompt uses
most (German "die" is a stop word in a German prompt, "war" stays a keyword in an English one).
Pure numbers and one-letter words are dropped.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

__all__ = ["LATIN_LANGUAGES", "words"]

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]+")
_THAI_RUN = re.compile(r"[\u0e00-\u0e7f]+")
_WORD = re.compile(r"[^\W\d_][\w'-]*[^\W_]|[^\W\d_]", re.UNICODE)
#: Latin-script languages of the multilingual model besides English, whose stop words apply to a
#: prompt that uses them more than English ones
LATIN_LANGUAGES = ("de", "es", "fr", "it", "nl", "pl", "pt", "tr")
#: request words, greetings and thanks of each language, on top of its list (they say nothing of a topic)
_EXTRA = {
    "en": {"please", "give", "use", "using", "want", "like", "just", "need", "hi", "hello", "hey", "thanks", "thank"},
    "ru": {"привет", "здравствуйте", "спасибо", "пожалуйста"},
    "zh": {"你好", "您好", "谢谢", "请问", "麻烦", "给出", "请"},
    "ja": {"こんにちは", "ありがとう", "ください"},
    "de": {"bitte", "danke", "hallo"},
}
_JA_KEEP = ("名詞", "動詞", "形容詞")
_JA_DROP = ("非自立", "接尾", "代名詞", "数")


@lru_cache(maxsize=1)
def _stop() -> dict[str, frozenset[str]]:
    import stopwordsiso
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    lists = {
        lang: frozenset(stopwordsiso.stopwords(lang))
        for lang in (*LATIN_LANGUAGES, "ru", "uk", "ar", "ko", "zh", "ja", "th")
    }
    lists["en"] = frozenset(ENGLISH_STOP_WORDS)
    return {lang: words | _EXTRA.get(lang, set()) for lang, words in lists.items()}


@lru_cache(maxsize=1)
def _janome() -> Any:
    from janome.tokenizer import Tokenizer

    return Tokenizer()


def _chinese(run: str, stop: frozenset[str]) -> list[str]:
    import rjieba

    return [w for w in rjieba.cut(run) if _HAN.search(w) and w not in stop]


def _japanese(run: str, stop: frozenset[str]) -> list[str]:
    out = []
    for token in _janome().tokenize(run):
        pos = token.part_of_speech.split(",")
        if pos[0] in _JA_KEEP and not any(p in _JA_DROP for p in pos[1:]):
            word = token.base_form if token.base_form != "*" else token.surface
            if word not in stop and (len(word) > 1 or _HAN.search(word)):
                out.append(word)
    return out


def words(text: str) -> list[str]:
    """The keyword candidates of ``text``, in order (see the module docstring)."""
    stop = _stop()
    out: list[str] = []
    for run in _CJK_RUN.findall(text):
        out.extend(_japanese(run, stop["ja"]) if _KANA.search(run) else _chinese(run, stop["zh"]))
    for run in _THAI_RUN.findall(text):
        out.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    spaced = [w for w in _WORD.findall(_THAI_RUN.sub(" ", _CJK_RUN.sub(" ", text)).lower()) if len(w) > 1]
    if not spaced:
        return out
    # a word's script is its first letter's; Latin words take English stop words and those of the
    # Latin-script language the prompt uses more than English, if any
    latin = {w for w in spaced if w[0] < "\u0370" or "\u1e00" <= w[0] < "\u2000"}
    latin_stop = stop["en"]
    if latin:
        best = max(LATIN_LANGUAGES, key=lambda lang: len(latin & stop[lang]))
        if len(latin & stop[best]) > len(latin & stop["en"]):
            latin_stop = stop["en"] | stop[best]
    for w in spaced:
        first = w[0]
        if w in latin:
            drop = w in latin_stop
        elif "\u0400" <= first <= "\u04ff":
            drop = w in stop["ru"] or w in stop["uk"]
        elif "\u0600" <= first <= "\u06ff":
            drop = w in stop["ar"]
        elif "\uac00" <= first <= "\ud7af" or "\u1100" <= first <= "\u11ff":
            drop = w in stop["ko"]
        else:
            drop = False
        if not drop:
            out.append(w)
    return out
