"""How close "the same prompt" is for an embedding model, measured on the model itself.

Cosine scales differ from model to model: all-MiniLM-L6-v2 puts an English prompt and the same prompt
with a greeting and a sign-off at a median cosine of about 0.95 (a Chinese one at 0.87, a Russian
one at 0.84), the multilingual USE at about 0.90-0.91 in all three.
So no near-duplicate threshold is assumed: :func:`near_duplicate_cosine` embeds a fixed probe of
prompts in English, Chinese and Russian, each alone and wrapped in a greeting and a sign-off of its
language, and takes the median cosine of those pairs (rounded down to 0.01) in the language where
it is highest as the model's near-duplicate threshold: prompts at least that close are "the same
request, worded around" in every language (the strictest: nothing is merged that some language's
wrapped pairs would not be). A
model that puts the wrapped pairs no closer than the 99.9th percentile of unrelated probe pairs
(of one language) cannot see near-duplicates at all (threshold 1.0: identical vectors only).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["PROBE", "WRAPPERS", "near_duplicate_cosine"]

#: distinct requests per language (within a language no two share a topic; across languages
#: several are translations of one another, and are never compared)
PROBE: dict[str, tuple[str, ...]] = {
    "en": (
        "What causes the seasons on Earth?",
        "Write a haiku about autumn leaves.",
        "How do I reverse a linked list in Python?",
        "Explain the difference between a virus and a bacterium.",
        "Suggest a name for a bakery that sells only bread.",
        "What is the capital of Australia?",
        "Summarize the plot of Romeo and Juliet in two sentences.",
        "How much water should an adult drink per day?",
        "Translate 'good morning' into French.",
        "What are the main causes of inflation?",
        "Give me a recipe for a vegetarian lasagna.",
        "Why is the sky blue?",
        "How do vaccines train the immune system?",
        "Write a SQL query that counts orders per customer.",
        "What is the Pythagorean theorem?",
        "Recommend three science fiction novels for a teenager.",
        "How do I fix a flat bicycle tire?",
        "Explain how a bill becomes a law in the United States.",
        "What is the boiling point of water at high altitude?",
        "Draft a polite email declining a meeting invitation.",
        "How does compound interest work?",
        "What were the causes of the First World War?",
        "How can I improve my sleep quality?",
        "Describe the life cycle of a butterfly.",
    ),
    "zh": (
        "地球为什么会有四季？",
        "写一首关于秋叶的短诗。",
        "如何用Python反转链表？",
        "病毒和细菌有什么区别？",
        "澳大利亚的首都是哪里？",
        "用两句话概括《红楼梦》的情节。",
        "成年人每天应该喝多少水？",
        "通货膨胀的主要原因是什么？",
        "天空为什么是蓝色的？",
        "疫苗是如何训练免疫系统的？",
        "推荐三本适合青少年的科幻小说。",
        "复利是怎么计算的？",
    ),
    "ru": (
        "Почему на Земле бывают времена года?",
        "Напиши короткое стихотворение об осенних листьях.",
        "Как развернуть связный список в Python?",
        "Чем вирус отличается от бактерии?",
        "Какая столица у Австралии?",
        "Кратко перескажи сюжет «Евгения Онегина».",
        "Сколько воды нужно пить взрослому в день?",
        "Каковы основные причины инфляции?",
        "Почему небо голубое?",
        "Как вакцины тренируют иммунную систему?",
        "Посоветуй три научно-фантастических романа для подростка.",
        "Как работает сложный процент?",
    ),
}
#: (greeting, sign-off) pairs per language, each wrapped around every probe prompt
WRAPPERS: dict[str, tuple[tuple[str, str], ...]] = {
    "en": (("Hi! ", " Thanks!"), ("Quick question: ", " Thank you in advance."), ("Hello, ", " Any ideas?")),
    "zh": (("你好！", "谢谢！"), ("请问：", "先谢谢了。"), ("麻烦问一下，", "有什么想法吗？")),
    "ru": (("Привет! ", " Спасибо!"), ("Быстрый вопрос: ", " Заранее спасибо."), ("Здравствуйте, ", " Есть идеи?")),
}
_UNRELATED_QUANTILE = 0.999


def _probe_pairs() -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """The probe prompts, their wrapped variants, each variant's prompt (an index) and each
    prompt's language (an index)."""
    base = [p for lang in PROBE for p in PROBE[lang]]
    language = np.repeat(np.arange(len(PROBE)), [len(p) for p in PROBE.values()])
    variants, of = [], []
    i = 0
    for lang, prompts in PROBE.items():
        for p in prompts:
            for lead, tail in WRAPPERS[lang]:
                variants.append(f"{lead}{p}{tail}")
                of.append(i)
            i += 1
    return base, variants, np.asarray(of), language


def near_duplicate_cosine(encode: Any) -> float:
    """The near-duplicate cosine of the model behind ``encode(texts) -> (n, dim)`` (see the module
    docstring)."""
    base, variants, of, language = _probe_pairs()
    vectors = np.asarray(encode(base + variants), dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    b, v = vectors[: len(base)], vectors[len(base) :]
    twins = (v * b[of]).sum(axis=1)
    i, j = np.triu_indices(len(base), 1)
    same = language[i] == language[j]
    unrelated = (b @ b.T)[i[same], j[same]]
    # the strictest language's median: a threshold that merges more than some language's wrapped
    # pairs would merge requests of that language that differ by more than their wording around
    threshold = max(math.floor(float(np.median(twins[language[of] == k])) * 100) / 100 for k in range(len(PROBE)))
    if threshold <= float(np.quantile(unrelated, _UNRELATED_QUANTILE)):
        return 1.0
    return min(threshold, 1.0)
