"""Conversation-aware prompts: a follow-up turn ("now give a harder variant") says nothing alone, so
what is embedded, hashed and scored carries the conversation's first user turn; the last turn stays
what is displayed."""

import numpy as np
import pytest
from conftest import nested, write_jsonl

from clusterkit.chat import extract_prompt
from clusterkit.embed import embed
from clusterkit.ingest import ingest
from clusterkit.textnorm import prompt_hash, text_hash

FOLLOW_UP = "Now give a harder variant."


def _conversation(first: str, follow_up: str = FOLLOW_UP) -> list[dict]:
    return [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": first},
        {"role": "assistant", "content": "Here it is."},
        {"role": "user", "content": follow_up},
    ]


def test_first_user_turn_is_the_context():
    chat = extract_prompt({"model": "m", "messages": _conversation("Write a sorting puzzle.")})
    assert chat.text == FOLLOW_UP and chat.context == "Write a sorting puzzle."
    anthropic = {
        "system": "s",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Prove that 17 is prime."}]},
            {"role": "assistant", "content": [{"type": "text", "text": "..."}]},
            {"role": "user", "content": [{"type": "text", "text": FOLLOW_UP}]},
        ],
    }
    assert extract_prompt(anthropic).context == "Prove that 17 is prime."
    # single turn, or a repeated identical turn: no context
    assert extract_prompt({"messages": [{"role": "user", "content": "hi"}]}).context is None
    assert extract_prompt([{"role": "user", "content": "hi"}, {"role": "user", "content": "hi"}]).context is None
    assert extract_prompt("plain prompt").context is None


def test_prompt_hash_of_single_turns_is_unchanged():
    assert prompt_hash("hello  world") == text_hash("hello world")
    assert prompt_hash(FOLLOW_UP, "a") != prompt_hash(FOLLOW_UP, "b") != prompt_hash(FOLLOW_UP)
    # no text can collide with a conversation by spelling out its context
    assert prompt_hash(FOLLOW_UP, "a") != text_hash("a " + FOLLOW_UP)


class Recording:
    model_id = "recording-test"

    def __init__(self):
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen.extend(texts)
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)


def _store_with_follow_ups(store, tmp_path):
    records = [
        nested(0, "a1", request={"model": "m", "messages": _conversation("Write a sorting puzzle.")}),
        nested(1, "a2", request={"model": "m", "messages": _conversation("Prove that 17 is prime.")}),
        nested(2, "a3", text=FOLLOW_UP),  # the same words sent alone
    ]
    ingest(store, write_jsonl(tmp_path / "log.jsonl", records))
    return store.sql("SELECT prompt_hash, text, context FROM prompts ORDER BY context NULLS LAST")


def test_follow_ups_in_different_conversations_are_different_prompts(store, tmp_path):
    prompts = _store_with_follow_ups(store, tmp_path)
    assert len(prompts) == 3  # not merged into one "Now give a harder variant."
    assert (prompts["text"] == FOLLOW_UP).all()  # displayed: the last turn
    assert prompts["context"].iloc[:2].tolist() == ["Prove that 17 is prime.", "Write a sorting puzzle."]
    assert prompts["context"].iloc[2] is None or prompts["context"].isna().iloc[2]
    # requests point at their own conversation's prompt; the conversation stays in extra
    req = store.sql("SELECT account_id, prompt_hash, extra->>'n_turns' AS turns FROM requests ORDER BY account_id")
    assert req["prompt_hash"].nunique() == 3 and req["turns"].tolist()[:2] == ["4", "4"]
    # re-ingesting the same file adds nothing
    counts = ingest(store, tmp_path / "log.jsonl")
    assert counts.ingested == 0 and counts.duplicates == 3


def test_what_is_embedded_carries_the_conversation(store, tmp_path):
    _store_with_follow_ups(store, tmp_path)
    emb = Recording()
    embed(store, embedder=emb)
    assert sorted(emb.seen) == sorted(
        [
            f"Write a sorting puzzle.\n\n{FOLLOW_UP}",
            f"Prove that 17 is prime.\n\n{FOLLOW_UP}",
            FOLLOW_UP,
        ]
    )


def test_a_long_first_turn_leaves_the_last_turn_in_the_model_window(store, tmp_path):
    from clusterkit.store import CONTEXT_CHARS

    long_first = "Explain the history of the Roman Empire in detail. " * 100
    ingest(store, write_jsonl(tmp_path / "l.jsonl", [nested(0, request={"messages": _conversation(long_first)})]))
    (h,) = store.sql("SELECT prompt_hash FROM prompts")["prompt_hash"]
    (embedded,) = store.prompt_texts([h], with_context=True)
    assert embedded.endswith(FOLLOW_UP) and len(embedded) == CONTEXT_CHARS + 2 + len(FOLLOW_UP)
    assert store.prompt_texts([h]) == [FOLLOW_UP]


@pytest.mark.slow
def test_real_model_places_follow_ups_with_their_conversations(store, tmp_path):
    """With the bundled model, each follow-up lands nearer its own conversation's topic than the
    other conversation's."""
    from clusterkit.embed import embed_texts

    _store_with_follow_ups(store, tmp_path)
    embed(store)
    (model_id,) = [m["model_id"] for m in store.embedding_models()]
    hashes, vectors = store.load_embeddings(model_id)
    by_hash = dict(zip(hashes, vectors))
    prompts = store.sql("SELECT prompt_hash, context FROM prompts WHERE context IS NOT NULL ORDER BY context")
    topics = embed_texts(prompts["context"].tolist())
    v = np.array([by_hash[h] for h in prompts["prompt_hash"]])
    sim = (v / np.linalg.norm(v, axis=1)[:, None]) @ (topics / np.linalg.norm(topics, axis=1)[:, None]).T
    assert sim[0, 0] > sim[0, 1] and sim[1, 1] > sim[1, 0]
