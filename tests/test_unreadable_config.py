"""A config file the speaker may not read: one line naming the file and what to
do, a non-zero exit, no traceback. Root reads any file, so the CLI runs as root
without the capabilities that let it (setpriv), which is what a service user is."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# root without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH obeys file modes like anyone
PLAIN = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def _earmark_without_override(
    *args: str, code: str | None = None
) -> subprocess.CompletedProcess[str]:
    python = [sys.executable, "-c", code] if code else [sys.executable, "-m", "earmark"]
    return subprocess.run(
        [*(PLAIN if os.geteuid() == 0 else []), *python, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def unreadable_config(write_config: Callable[..., Path]) -> Path:
    config = write_config()
    config.chmod(0)
    return config


@pytest.mark.parametrize("command", [["run"], ["config", "check"]])
def test_an_unreadable_config_is_one_line_naming_it_and_what_to_do(
    unreadable_config: Path, command: list[str]
) -> None:
    result = _earmark_without_override("-c", str(unreadable_config), *command)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"earmark: {unreadable_config}: cannot read: permission denied")
    assert "make it readable by the user earmark runs as" in lines[0]


def test_a_default_config_behind_a_closed_folder_is_named_not_a_traceback(
    tmp_path: Path,
) -> None:
    """/etc/earmark closed to the service user: the default path cannot even be
    looked at; saying so beats a PermissionError traceback or silent defaults."""
    folder = tmp_path / "etc-earmark"
    folder.mkdir()
    (folder / "earmark.yaml").write_text("device_id: box\n")
    folder.chmod(0o700)
    os.chown(folder, 12345, 12345)  # somebody else's folder
    hidden = folder / "earmark.yaml"
    code = (
        "import sys; from pathlib import Path; import earmark.config as c;"
        f"c.default_config_path = lambda: Path({str(hidden)!r});"
        "from earmark.cli import main; sys.exit(main(['config', 'check']))"
    )
    result = _earmark_without_override(code=code)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"earmark: {hidden}: cannot read: permission denied")
