"""``earmark.sh install`` and ``uninstall``, the Pi's path, checked step by step
with DRY_RUN=1 (the steps printed, none run): this machine is no Pi and runs no
systemd, so what can be checked here is the order and what is kept."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).parent.parent


def _steps(*args: str) -> list[str]:
    result = subprocess.run(
        ["bash", str(ROOT / "earmark.sh"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DRY_RUN": "1"},
    )
    assert result.returncode == 0, result.stderr
    return [line[2:] for line in result.stdout.splitlines() if line.startswith("+ ")]


def _index(steps: list[str], fragment: str) -> int:
    return next(i for i, step in enumerate(steps) if fragment in step)


def test_install_makes_the_user_before_its_files_and_starts_the_services_last() -> None:
    steps = _steps("install")
    assert _index(steps, "systemd-sysusers") < _index(steps, "systemd-tmpfiles --create")
    assert _index(steps, "systemd-sysusers") < _index(steps, "-g earmark")
    assert _index(steps, "pip install -q --require-hashes") < _index(steps, "pip install -q /opt")
    assert _index(steps, "systemctl daemon-reload") < _index(steps, "systemctl enable")
    assert steps[-1] == "systemctl restart earmark.service earmark-dashboard.service"
    for unit in ("earmark.service", "earmark-dashboard.service"):
        assert any(s.endswith(f"/etc/systemd/system/{unit}") for s in steps)
        assert (ROOT / "systemd" / unit).exists()
    for snippet in ("earmark.sysusers", "earmark.tmpfiles", "99-earmark-input.rules"):
        assert any(f"systemd/{snippet}" in s for s in steps)
    assert any("bluez-alsa-utils" in s for s in steps)


def test_uninstall_keeps_the_data_and_config_unless_purged() -> None:
    kept = " ".join(_steps("uninstall"))
    assert "disable --now earmark.service" in kept and "/var/lib/earmark" not in kept
    purged = " ".join(_steps("uninstall", "--purge"))
    assert "rm -rf /var/lib/earmark /etc/earmark" in purged


def test_install_refuses_without_root_in_one_line() -> None:
    # a copy of the script where any user may read it: the checkout itself may sit
    # in a folder only root can enter (a mktemp clone), which nobody could run from
    shelf = Path(tempfile.mkdtemp(prefix="earmark-install-"))
    try:
        shelf.chmod(0o755)
        script = shelf / "earmark.sh"
        shutil.copy(ROOT / "earmark.sh", script)
        script.chmod(0o644)
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        result = subprocess.run(
            [*(as_nobody if os.geteuid() == 0 else []), "bash", str(script), "install"],
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if k != "DRY_RUN"},
        )
    finally:
        shutil.rmtree(shelf)
    assert result.returncode == 2
    assert result.stderr.strip() == f"earmark: install needs root: sudo {script} install"


def test_the_installed_config_points_at_the_services_directories_and_is_valid(
    tmp_path: Path,
) -> None:
    import shlex
    import sys

    edit = next(s for s in _steps("install") if s.startswith("sed -i"))
    config = tmp_path / "earmark.yaml"
    config.write_text((ROOT / "config" / "earmark.example.yaml").read_text())
    words = shlex.split(edit.replace("/etc/earmark/earmark.yaml", str(config)))
    subprocess.run(words, check=True)
    text = config.read_text()
    assert "\ncontrol_socket: /run/earmark/earmark.sock\n" in text
    assert "  data_dir: /var/lib/earmark-dashboard" in text
    check = subprocess.run(
        [sys.executable, "-m", "earmark", "-c", str(config), "config", "check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
