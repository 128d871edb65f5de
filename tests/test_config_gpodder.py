"""The gpodder section: off by default, each missing key named at the section, the
password from the file or an environment variable and never shown."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from earmark.config import Config, load, load_text
from earmark.config.choices import GpodderFlavour
from earmark.errors import ConfigError

PASSWORD = "s3cret-app-password-9f2k"
ENABLED = (
    "device_id: kitchen\n"
    "gpodder:\n"
    "  enabled: true\n"
    "  server: https://cloud.example.org\n"
    "  flavour: nextcloud\n"
    "  username: alice\n"
    f"  password: {PASSWORD}\n"
)


def without(key: str) -> str:
    return "".join(line for line in ENABLED.splitlines(True) if not line.startswith(f"  {key}:"))


def test_gpodder_sync_is_off_by_default_and_needs_nothing() -> None:
    gpodder = load_text("", Config).gpodder
    assert not gpodder.enabled
    assert gpodder.interval_minutes == 15
    assert gpodder.flavour is GpodderFlavour.GPODDER


def test_an_enabled_section_loads_with_the_speakers_device_id() -> None:
    gpodder = load_text(ENABLED, Config, "box.yaml").gpodder
    assert gpodder.enabled and gpodder.flavour is GpodderFlavour.NEXTCLOUD
    assert (gpodder.server, gpodder.username, gpodder.password) == (
        "https://cloud.example.org",
        "alice",
        PASSWORD,
    )
    assert gpodder.device_id == "kitchen"


def test_a_device_id_of_its_own_wins() -> None:
    text = ENABLED + "  device_id: earmark-kitchen\n"
    assert load_text(text, Config).gpodder.device_id == "earmark-kitchen"


@pytest.mark.parametrize("key", ["server", "username", "password"])
def test_enabled_without_a_key_names_that_key(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(without(key), Config, "box.yaml")
    error = caught.value
    # the line where the section's options begin (here `enabled: true`)
    assert (error.path, error.line, error.key) == ("box.yaml", 3, f"gpodder.{key}")
    assert "needed when gpodder sync is enabled" in str(error)
    assert "\n" not in str(error) and PASSWORD not in str(error)


def test_a_password_variable_stands_in_for_the_password() -> None:
    text = without("password") + "  password_env: EARMARK_GPODDER_PASSWORD\n"
    gpodder = load_text(text, Config).gpodder
    assert gpodder.password is None and gpodder.password_env == "EARMARK_GPODDER_PASSWORD"


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        ("  password_env: EARMARK_GPODDER_PASSWORD\n", "gpodder.password_env", "not both"),
        ("  device_id: kitchen speaker\n", "gpodder.device_id", "letters, digits"),
        ("  interval_minutes: 0.1\n", "gpodder.interval_minutes", "at least 1"),
    ],
)
def test_a_wrong_value_names_its_key(extra: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(ENABLED + extra, Config, "box.yaml")
    assert caught.value.key == key and message in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_a_flavour_typo_names_the_flavours() -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(ENABLED.replace("flavour: nextcloud", "flavour: owncloud"), Config, "box.yaml")
    assert caught.value.key == "gpodder.flavour" and "gpodder, nextcloud" in str(caught.value)


def test_a_server_address_with_the_password_in_it_is_refused_without_showing_it() -> None:
    text = ENABLED.replace("https://cloud", f"https://alice:{PASSWORD}@cloud")
    with pytest.raises(ConfigError) as caught:
        load_text(text, Config, "box.yaml")
    assert caught.value.key == "gpodder.server" and "credentials" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_a_speaker_device_id_gpodder_cannot_take_asks_for_one() -> None:
    text = ENABLED.replace("device_id: kitchen", "device_id: kitchen speaker")
    with pytest.raises(ConfigError) as caught:
        load_text(text, Config, "box.yaml")
    assert caught.value.key == "gpodder" and "gPodder device id" in str(caught.value)


def test_the_password_is_not_in_the_repr_of_the_config() -> None:
    config = load_text(ENABLED, Config)
    assert PASSWORD not in repr(config) and PASSWORD not in repr(config.gpodder)
    assert "alice" in repr(config.gpodder)  # the repr does show the section


def run_config_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "earmark", "--config", str(path), "config", "check"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )


def test_config_check_never_prints_the_password(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    # a transcriber that needs no model on this machine, so that the check passes
    good.write_text(ENABLED + "transcription:\n  backend: wyoming\n")
    broken = tmp_path / "broken.yaml"
    broken.write_text(ENABLED + "  interval_minutes: 0\n")

    ok, refused = run_config_check(good), run_config_check(broken)

    assert refused.returncode == 2 and "gpodder.interval_minutes" in refused.stderr
    assert ok.returncode == 0 and "config OK" in ok.stdout, ok.stderr
    for result in (ok, refused):
        assert PASSWORD not in result.stdout + result.stderr


def test_load_reads_the_section_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "box.yaml"
    path.write_text(ENABLED)
    assert load(path).gpodder.username == "alice"
