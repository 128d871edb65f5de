"""Audio output selection: a box that cannot sound still plays (silently)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from earmark.config.model import PlayerConfig
from earmark.device import audio


def test_sound_cards_are_read_from_proc(tmp_path: Path) -> None:
    cards = tmp_path / "cards"
    cards.write_text(
        " 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones\n"
        "                      bcm2835 Headphones\n"
    )
    assert audio.sound_cards(cards) == ["0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones"]
    cards.write_text("--- no soundcards ---\n")
    assert audio.sound_cards(cards) == []


def test_auto_without_any_sound_device_plays_silently_with_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(audio, "sound_cards", lambda: [])
    monkeypatch.setattr(audio, "sound_servers", lambda: [])
    with caplog.at_level(logging.WARNING):
        chosen = audio.choose_output(PlayerConfig(audio_output="auto"))
    assert chosen.audio_output == "null"
    assert len(caplog.records) == 1 and "playing silently" in caplog.text


def test_an_explicit_output_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio, "sound_cards", lambda: [])
    monkeypatch.setattr(audio, "sound_servers", lambda: [])
    assert audio.choose_output(PlayerConfig(audio_output="alsa")).audio_output == "alsa"


def test_auto_is_kept_when_a_card_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio, "sound_cards", lambda: ["0 [Device]: USB-Audio"])
    assert audio.choose_output(PlayerConfig(audio_output="auto")).audio_output == "auto"
