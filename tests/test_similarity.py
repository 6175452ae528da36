"""The near-duplicate cosine is measured on each model (its cosine scale is never assumed)."""

import numpy as np
import pytest

from clusterkit.embed import get_embedder
from clusterkit.similarity import PROBE, WRAPPERS, near_duplicate_cosine


class HashEmbedder:
    """Random unit vectors per text: sees no near-duplicates at all."""

    def encode(self, texts):
        return np.asarray(
            [np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(16) for t in texts], dtype=np.float32
        )


class WordEmbedder:
    """Bag of the text's characters: a wrapped prompt stays close to it, unrelated ones do not."""

    def encode(self, texts):
        out = np.zeros((len(texts), 4096), dtype=np.float32)
        for i, t in enumerate(texts):
            for c in t:
                out[i, hash(c) % 4096] += 1
        return out


def test_probe_covers_the_languages_with_their_own_wrappers():
    assert set(PROBE) == set(WRAPPERS) >= {"en", "zh", "ru"}
    for lang, prompts in PROBE.items():
        assert len(set(prompts)) == len(prompts) >= 12, lang


def test_a_model_that_sees_no_near_duplicates_gets_none_and_a_scale_is_measured_not_assumed():
    assert near_duplicate_cosine(HashEmbedder().encode) == 1.0
    bag = near_duplicate_cosine(WordEmbedder().encode)
    assert 0 < bag < 1 and bag != 0.95


@pytest.mark.slow
def test_the_bundled_models_thresholds():
    """MiniLM: 0.95 (its English wrapped pairs; the constant it always had); the multilingual USE
    puts wrapped pairs lower, at about 0.9 in every language."""
    assert near_duplicate_cosine(get_embedder().encode) == pytest.approx(0.95)
    assert 0.85 <= near_duplicate_cosine(get_embedder(model="multilingual").encode) <= 0.93
