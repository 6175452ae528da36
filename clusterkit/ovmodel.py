"""A lean OpenVINO encoder for standard sentence-transformers models.

For a model made of Transformer -> Pooling (mean or CLS) -> optional Normalize, encoding needs only
the Rust ``tokenizers`` library and the OpenVINO runtime: no torch, transformers or optimum import
at run time (several seconds saved per command), and batches go straight from token ids to the
compiled model. :mod:`clusterkit.models` writes the manifest this reads when it prepares a model;
models of any other shape use sentence-transformers itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MANIFEST", "LeanOpenVINOModel", "write_manifest"]

MANIFEST = "clusterkit-encoder.json"


def write_manifest(model: Any, folder: Path, xml: str) -> bool:
    """Describe ``model`` (a loaded SentenceTransformer) for the lean encoder; False if unsupported."""
    names = [type(m).__name__ for m in model]
    if names[:2] != ["Transformer", "Pooling"] or any(n != "Normalize" for n in names[2:]):
        return False
    pooling = getattr(model[1], "pooling_mode", None)
    if pooling not in ("mean", "cls") or not (folder / "tokenizer.json").exists():
        return False
    manifest = {
        "xml": xml,
        "max_seq_length": int(model.max_seq_length),
        "pooling": pooling,
        "normalize": "Normalize" in names,
        "dim": int(model.get_sentence_embedding_dimension()),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return True


class _Tokenizer:
    """Callable like a transformers tokenizer for what clusterkit asks of it (token counts)."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_truncation()
        self._tok.no_padding()

    def __call__(self, texts: list[str], **_: Any) -> dict[str, list[list[int]]]:
        return {"input_ids": [e.ids for e in self._tok.encode_batch(texts)]}


class LeanOpenVINOModel:
    """Encodes like ``SentenceTransformer.encode`` for the supported model shapes."""

    def __init__(
        self, folder: Path, manifest: dict[str, Any], threads: int | None = None, xml: str | None = None
    ) -> None:
        import openvino as ov
        from tokenizers import Tokenizer

        self.max_seq_length = int(manifest["max_seq_length"])
        self.pooling = manifest["pooling"]
        self.normalize = bool(manifest["normalize"])
        self.dim = int(manifest["dim"])
        tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tok.enable_truncation(self.max_seq_length)
        pad_id = tok.token_to_id("[PAD]") or 0
        tok.enable_padding(pad_id=pad_id, pad_token=tok.id_to_token(pad_id) or "[PAD]")
        self._tok = tok
        self.tokenizer = _Tokenizer(folder / "tokenizer.json")
        config = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = str(threads)
        core = ov.Core()
        compiled = core.compile_model(core.read_model(str(folder / (xml or manifest["xml"]))), "CPU", config)
        self._inputs = {i.get_any_name() for i in compiled.inputs}
        self._request = compiled.create_infer_request()

    def get_sentence_embedding_dimension(self) -> int:
        return self.dim

    def _batch(self, texts: list[str]) -> np.ndarray:
        encs = self._tok.encode_batch(texts)
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.array([e.type_ids for e in encs], dtype=np.int64)
        hidden = self._request.infer(feed)[0]
        if self.pooling == "cls":
            out = hidden[:, 0, :]
        else:
            m = mask[:, :, None].astype(np.float32)
            out = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        if self.normalize:
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)

    def encode(self, texts: list[str], batch_size: int = 32, **_: Any) -> np.ndarray:
        """Embeddings of ``texts`` in input order; batches are formed in length order."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            out[idx] = self._batch([texts[i] for i in idx])
        return out
