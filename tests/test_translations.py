"""A prompt and its translation, under the multilingual model: nearest neighbours and clusters.

Chinese on the verified Alpaca translations of the shared corpora (skipped when they are absent),
Russian on a small parallel set written here."""

import gzip

import numpy as np
import orjson
import pytest
from conftest import nested, write_jsonl
from sklearn.metrics import adjusted_rand_score

from clusterkit.embed import embed_texts
from clusterkit.ingest import ingest
from clusterkit.pipeline import EngineParams, run
from clusterkit.store import Store

#: English prompts and their Russian translations (written for this test)
_RU = [
    ("How do I bake sourdough bread at home?", "Как испечь хлеб на закваске дома?"),
    ("Explain how vaccines train the immune system.", "Объясни, как вакцины тренируют иммунную систему."),
    ("Write a Python function that reverses a string.", "Напиши функцию на Python, которая переворачивает строку."),
    ("What caused the fall of the Roman Empire?", "Что стало причиной падения Римской империи?"),
    ("Suggest a name for a coffee shop by the sea.", "Предложи название для кофейни у моря."),
    ("How does compound interest work?", "Как работают сложные проценты?"),
    ("Translate 'good morning' into French.", "Переведи «доброе утро» на французский."),
    ("Why is the sky blue?", "Почему небо голубое?"),
    ("Give me a workout plan for beginners.", "Дай мне план тренировок для начинающих."),
    ("What is the difference between a virus and a bacterium?", "Чем вирус отличается от бактерии?"),
    ("Summarise the plot of Romeo and Juliet.", "Кратко перескажи сюжет «Ромео и Джульетты»."),
    ("How can I improve my sleep?", "Как мне улучшить сон?"),
    ("Write a haiku about autumn leaves.", "Напиши хайку об осенних листьях."),
    ("What are the symptoms of dehydration?", "Каковы симптомы обезвоживания?"),
    ("Explain recursion to a ten-year-old.", "Объясни рекурсию десятилетнему ребёнку."),
    ("How do solar panels generate electricity?", "Как солнечные панели вырабатывают электричество?"),
    ("List three tips for a job interview.", "Перечисли три совета для собеседования."),
    ("What is the capital of Australia?", "Какая столица у Австралии?"),
    ("How do I remove a red wine stain?", "Как вывести пятно от красного вина?"),
    ("Describe the water cycle.", "Опиши круговорот воды в природе."),
]


def _twins(corpora, n: int) -> tuple[list[str], list[str]]:
    def rows(name):
        with gzip.open(corpora / f"{name}.jsonl.gz", "rb") as fh:
            return [orjson.loads(line) for line in fh]

    english = rows("alpaca_52k")
    zh = [r for r in rows("alpaca_zh_translated") if r.get("alignment") == "verified"]
    # distinct originals and translations only (a twin must be told from every other prompt)
    seen_en, seen_zh, pairs = set(), set(), []
    for r in zh:
        en = english[r["alpaca_index"]]["text"]
        if en not in seen_en and r["text"] not in seen_zh:
            seen_en.add(en)
            seen_zh.add(r["text"])
            pairs.append((r["text"], en))
        if len(pairs) == n:
            break
    return [z for z, _ in pairs], [e for _, e in pairs]


def _top1(other: np.ndarray, english: np.ndarray) -> float:
    return float((np.argmax(other @ english.T, axis=1) == np.arange(len(english))).mean())


@pytest.mark.slow
def test_chinese_and_russian_prompts_find_their_english_originals(shared_prompts):
    zh, en = _twins(shared_prompts, 400)
    assert len(zh) == 400
    vectors = embed_texts(zh + en, model="multilingual")
    assert _top1(vectors[:400], vectors[400:]) >= 0.95
    ru = embed_texts([r for _, r in _RU] + [e for e, _ in _RU], model="multilingual")
    assert _top1(ru[: len(_RU)], ru[len(_RU) :]) >= 0.95
    # the English-only default does not manage it: why the multilingual model exists
    assert _top1(*np.split(embed_texts(zh[:100] + en[:100]), 2)) < 0.5


@pytest.mark.slow
def test_a_chinese_sweep_and_its_english_twin_land_in_the_same_clusters(shared_prompts, tmp_path):
    """One map of 400 Chinese instructions and their 400 English originals, default clustering: the
    twins' cluster labels agree, so a Chinese sweep's coverage reads like its English twin's.
    (Measured: 90% of twins share a label, noise included; ARI 0.98 over the twins both clustered,
    0.75 counting noise as one more label - HDBSCAN leaves a fifth of these diverse prompts as noise,
    and a twin at a cluster's edge can fall either side.)"""
    zh, en = _twins(shared_prompts, 400)
    records = [nested(i, "zh", text) for i, text in enumerate(zh)] + [
        nested(1000 + i, "en", text) for i, text in enumerate(en)
    ]
    with Store(tmp_path / "t.duckdb") as store:
        ingest(store, write_jsonl(tmp_path / "twins.jsonl", records), workers=1)
        result = run(store, EngineParams(model="multilingual"))
        labels = store.labels(result.run_id).set_index("text")["cluster"]
    a, b = labels.loc[zh].to_numpy(), labels.loc[en].to_numpy()
    both = (a >= 0) & (b >= 0)
    assert both.mean() > 0.5  # most twins are in a cluster, not noise
    assert (a == b).mean() >= 0.85
    assert adjusted_rand_score(a[both], b[both]) >= 0.8
