"""What the fixed part of a group's prompts asks for: a transformation of the user's own text (an
application: summarise, translate, classify, edit, answer from a document) or the model's own
capability (reasoning, complete answers, grading: what a distillation campaign harvests).

Templates are mined from the data (a prefix or suffix shared by many distinct prompts,
``mined_affixes.sql``); each template's whole fixed part is the longest prefix (or suffix) most of
its prompts share. It is embedded with the bundled multilingual model (``INTENT_MODEL``, whatever
model the map was built with) and compared with short descriptions of the two kinds of request and
of a third kind, a frame that names no task ("Instruction:", "Задание:": the request is in the
varying part), written in several languages (``PROTOTYPES``): the intent is never matched by
keywords, and a new phrasing lands by meaning, in any language the model reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "FIXED_CHARS",
    "FIXED_SHARE",
    "FOLLOW_UP",
    "INTENT_MODEL",
    "MIN_READ_BYTES",
    "PROTOTYPES",
    "TEMPERATURE",
    "app_likeness",
    "elicitation",
    "fixed_part",
    "read_intents",
    "template_intents",
]

#: the model that reads templates' intent (a ``--model`` value): the multilingual USE, whatever
#: model the map was built with - an English-only map model reads a Russian "first write out your
#: whole chain of reasoning" as an application (app-likeness 0.88 under all-MiniLM-L6-v2, 0.03
#: under USE; measured on the tuning cells' mined templates)
INTENT_MODEL = "multilingual"
#: the fixed part of a template is cut to this many characters
FIXED_CHARS = 300
#: a fixed part shorter than this many bytes of UTF-8 is too short to read for what it asks ("why?",
#: "thanks", "谢谢" read as eliciting under the intent model): its elicitation is 0 (a CJK character
#: is three bytes: "请更深入地解释你上一个回答。" is 42)
MIN_READ_BYTES = 20
#: how a mined scripted follow-up (a later turn many conversations send) is marked (sql/mined_affixes.sql)
FOLLOW_UP = "↩ "
#: softmax temperature over the kinds' similarities, in units of the spread (standard deviation)
#: of the prototypes' pairwise cosines under the model: no model's cosine scale is assumed (0.05 of
#: cosine under all-MiniLM-L6-v2, whose spread is 0.155, where it was set; the multilingual USE's
#: spread is 0.164)
TEMPERATURE = 0.32

#: short descriptions of each kind of request (English, Chinese, Russian), embedded like prompts
PROTOTYPES: dict[str, tuple[str, ...]] = {
    "transform": (
        "Summarize the following text.",
        "Translate the following text into another language.",
        "Classify the sentiment of this customer review.",
        "Correct the grammar and spelling of this email.",
        "Rewrite this paragraph in a more formal tone.",
        "Extract the names, dates and amounts from this document.",
        "Answer the question using only the information in the document below.",
        "Convert this text to a bulleted list.",
        "Label the category of this support ticket.",
        "请总结以下文本。",
        "请将下面的文字翻译成英文。",
        "判断这条用户评论的情感倾向。",
        "Кратко перескажи следующий текст.",
        "Переведи этот текст на английский язык.",
    ),
    "elicit": (
        "Think step by step and write out all of your reasoning before the final answer.",
        "Explain the reasoning behind the answer in full detail.",
        "Answer as thoroughly and completely as you can.",
        "Grade the response against the rubric and give a score for each criterion.",
        "Evaluate the quality of the answer and assign a score out of 10.",
        "Solve the problem and show your complete chain of thought.",
        "Write a complete, high-quality solution to the task.",
        "You are an expert; give a comprehensive, detailed answer.",
        "请一步一步地思考，写出完整的推理过程，然后给出答案。",
        "请根据评分标准为回答打分。",
        "Подумай шаг за шагом и подробно объясни ход рассуждений.",
        "Оцени ответ по критериям и поставь баллы.",
    ),
    # a frame names no task: a label or a form around a request written in the varying part (a
    # capability sweep wrapped in an instruction format). It is neither an application's one task nor
    # an elicitation; without it a bare "Instruction:" reads as a transformation of the user's text
    # (app-likeness 0.99 under the multilingual USE: found on tuning cells k9 and k10, whose English
    # sweeps in instruction formats were set aside as applications)
    "frame": (
        "Instruction:",
        "Question:",
        "Task:",
        "Request:",
        "Here is the task:",
        "The user's request follows.",
        "问题：",
        "任务如下：",
        "Задание:",
        "Вопрос:",
    ),
}
#: the share of a template's prompts whose common prefix (or suffix) is its fixed part: what most of
#: them share, not what all do (a format with two variants - with and without an input field - shares
#: only a fragment of its preamble across both: "below is an instruction that describes a")
FIXED_SHARE = 0.5


def _common_prefix(texts: Sequence[str]) -> str:
    first, last = min(texts), max(texts)  # the common prefix of all is that of the extremes
    i = 0
    while i < min(len(first), len(last)) and first[i] == last[i]:
        i += 1
    return first[:i]


def _shared_prefix(texts: Sequence[str], share: float) -> tuple[str, list[str]]:
    """The longest prefix at least ``share`` of ``texts`` (and two) have in common, and those texts: the
    common prefix of a run of that many consecutive texts in sorted order, the longest such run's."""
    ordered = sorted(texts)
    w = min(len(ordered), max(2, int(np.ceil(share * len(ordered)))))  # (a prefix is shared by two at least)
    best, at = "", 0
    for i in range(len(ordered) - w + 1):
        common = _common_prefix([ordered[i], ordered[i + w - 1]])
        if len(common) > len(best):
            best, at = common, i
    return best, ordered[at : at + w]


def fixed_part(template: str, texts: Sequence[str]) -> str:
    """The longest prefix (for a mined head, ``"… "`` at the end) or suffix (a mined tail) that at
    least ``FIXED_SHARE`` of the template's prompts share, cut back to a word boundary and to
    ``FIXED_CHARS``."""
    texts = [t for t in texts if t]
    if not texts:
        return template.strip(" …")
    tail = template.startswith("… ")
    if tail:
        common, those = _shared_prefix([t[::-1] for t in texts], FIXED_SHARE)
        common = common[::-1]
        common = common[common.find(" ") + 1 :] if " " in common and len(common) < min(map(len, those)) else common
        return common[-FIXED_CHARS:].strip()
    common, those = _shared_prefix(texts, FIXED_SHARE)
    if len(common) < min(map(len, those)) and " " in common:
        common = common[: common.rfind(" ")]
    return common[:FIXED_CHARS].strip()


def read_intents(fixed: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per fixed part, how much it reads as each kind of request (softmax over the best two
    similarities to each kind's prototypes, at ``TEMPERATURE`` times the spread of the prototypes'
    own cosines under the model): (transformation of the user's text, frame naming no task); the
    rest is elicitation."""
    if not len(fixed):
        return np.zeros(0), np.zeros(0)
    kinds = list(PROTOTYPES)
    protos = [p for k in kinds for p in PROTOTYPES[k]]
    vectors = np.asarray(encode(list(fixed) + protos), dtype=float)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = vectors[: len(fixed)] @ vectors[len(fixed) :].T
    among = vectors[len(fixed) :] @ vectors[len(fixed) :].T
    spread = max(float(among[np.triu_indices(len(protos), 1)].std()), 1e-6)
    best = []
    start = 0
    for k in kinds:
        part = np.sort(sims[:, start : start + len(PROTOTYPES[k])], axis=1)[:, -2:]
        best.append(part.mean(axis=1))
        start += len(PROTOTYPES[k])
    logits = np.stack(best, axis=1) / (TEMPERATURE * spread)
    shares = np.exp(logits - logits.max(axis=1, keepdims=True))
    shares /= shares.sum(axis=1, keepdims=True)
    return shares[:, kinds.index("transform")], shares[:, kinds.index("frame")]


def app_likeness(fixed: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """Per fixed part, 0..1: how much it reads as a transformation of the user's text rather than as
    eliciting the model's own capability or as a frame naming no task (:func:`read_intents`)."""
    return read_intents(fixed, encode)[0]


def elicitation(app_likeness: np.ndarray, frame: np.ndarray | float = 0.0) -> np.ndarray:
    """0..1 per mined template: how much more its fixed part reads as eliciting the model's own
    capability than as a transformation of the user's text (the elicit share less the transform
    share, the frame share being the rest: 1 at app-likeness 0 with no frame, 0 from where it reads
    as much as a transformation, or as a frame); 0 for NaN (no template)."""
    likeness = np.nan_to_num(np.asarray(app_likeness, dtype=float), nan=0.5)
    return np.clip(1 - 2 * likeness - np.nan_to_num(np.asarray(frame, dtype=float)), 0, 1)


def template_intents(templates: pd.DataFrame, encode: Callable[[list[str]], np.ndarray]) -> pd.DataFrame:
    """``templates`` (template, n_prompts, texts) with each one's fixed part, app-likeness and
    elicitation (:func:`elicitation`).

    A scripted follow-up has no app-likeness (NaN): "translate your answer" transforms the model's
    own previous answer, not a user's text, so it says nothing about an application either way. Its
    elicitation is read all the same: "now give a harder variant and solve it" asks for the model's
    own answers, whatever the conversation before it - where its fixed part is long enough to read
    (``MIN_READ_BYTES``)."""
    out = templates[["template", "n_prompts"]].copy()
    out["fixed"] = [
        fixed_part(t.removeprefix(FOLLOW_UP), list(x)) for t, x in zip(templates["template"], templates["texts"])
    ]
    likeness, frame = read_intents(out["fixed"].tolist(), encode)
    wrapper = ~out["template"].str.startswith(FOLLOW_UP).to_numpy(bool)
    out["app_likeness"] = np.where(wrapper, likeness, np.nan)
    readable = np.array([len(f.encode("utf-8")) >= MIN_READ_BYTES for f in out["fixed"]], dtype=bool)
    out["elicits"] = np.where(readable, elicitation(likeness, frame), 0.0)
    return out
