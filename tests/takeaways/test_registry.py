"""The summarizer is a plug point chosen by ``takeaways.backend``: every choice
builds one, and the config refuses a name it does not know."""

from __future__ import annotations

from pathlib import Path

import pytest

from earmark.config import load
from earmark.config.choices import SummarizerBackend
from earmark.config.model import TakeawaysConfig
from earmark.errors import ConfigError
from earmark.takeaways import ExtractiveSummarizer, SnipText, build_summarizer
from earmark.takeaways.registry import SUMMARIZERS


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "box.yaml"
    path.write_text(text)
    return path


def test_every_backend_choice_has_a_factory() -> None:
    assert set(SUMMARIZERS) == set(SummarizerBackend)


@pytest.mark.parametrize("backend", list(SummarizerBackend))
def test_each_backend_builds_a_summarizer_of_that_name(backend: SummarizerBackend) -> None:
    summarizer = build_summarizer(TakeawaysConfig(backend=backend))
    assert summarizer.name == backend
    assert summarizer.summarize(SnipText.from_text("One thing. Another thing.")).backend == backend


def test_the_default_config_builds_the_on_device_summarizer(tmp_path: Path) -> None:
    config = load(write(tmp_path, "device_id: box\n"))
    assert config.takeaways.backend is SummarizerBackend.MINILM
    assert build_summarizer(config.takeaways).name == "minilm"


def test_a_missing_model_still_gives_a_summary_that_says_why(tmp_path: Path) -> None:
    missing = tmp_path / "gone.onnx"
    summarizer = build_summarizer(TakeawaysConfig(model_path=missing))
    summary = summarizer.summarize(SnipText.from_text("Compost needs air. Turn the pile weekly."))
    assert summary.backend == "extractive" and summary.takeaways
    assert summary.fallback_reason is not None and str(missing) in summary.fallback_reason


def test_a_corrupt_model_still_gives_a_summary_that_says_why(tmp_path: Path) -> None:
    corrupt = tmp_path / "model.onnx"
    corrupt.write_bytes(b"\x08\x07not an onnx graph" * 100)
    summary = build_summarizer(TakeawaysConfig(model_path=corrupt)).summarize(
        SnipText.from_text("Compost needs air. Turn the pile weekly.")
    )
    assert summary.backend == "extractive" and summary.takeaways
    assert "cannot load the embedding model" in (summary.fallback_reason or "")


def test_the_backend_named_in_the_file_is_the_one_built(tmp_path: Path) -> None:
    config = load(write(tmp_path, "takeaways:\n  backend: extractive\n"))
    assert isinstance(build_summarizer(config.takeaways), ExtractiveSummarizer)


def test_an_unknown_backend_is_refused_with_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "device_id: box\ntakeaways:\n  backend: gpt\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert (caught.value.path, caught.value.line, caught.value.key) == (
        str(path),
        3,
        "takeaways.backend",
    )
    assert str(caught.value) == (
        f"{path}:3: key 'takeaways.backend': 'gpt' is not one of: minilm, extractive"
    )
