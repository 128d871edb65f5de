"""Advice when the input or GPIO nodes cannot be read (tests run as root, so the
readability check is handed in)."""

from __future__ import annotations

import os
from pathlib import Path

from earmark.device import permission_advice
from earmark.device.permissions import advice_for


def nodes(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "input").mkdir()
    for name in ("input/event0", "input/event1", "gpiochip0"):
        (tmp_path / name).touch()
    return tmp_path / "input", tmp_path


def test_all_readable_gives_no_advice(tmp_path: Path) -> None:
    input_dir, dev_dir = nodes(tmp_path)
    assert permission_advice(input_dir, dev_dir, readable=lambda p: True) == []


def test_unreadable_nodes_give_one_line_each(tmp_path: Path) -> None:
    input_dir, dev_dir = nodes(tmp_path)
    advice = permission_advice(input_dir, dev_dir, readable=lambda p: False)
    assert len(advice) == 2
    assert advice[0].startswith(f"cannot read {input_dir / 'event0'}")
    assert "'input' group" in advice[0] and "99-earmark-input.rules" in advice[0]
    assert "'gpio' group" in advice[1]
    assert all("\n" not in line for line in advice)


def test_node_of_the_input_group_says_which_group_to_join() -> None:
    line = advice_for(Path("/dev/input/event3"), "input", "input", member=False)
    assert line == (
        "cannot read /dev/input/event3: add the earmark user to the 'input' group "
        "(sudo usermod -aG input <user>) and restart earmark"
    )


def test_member_of_the_group_is_told_to_install_the_rule() -> None:
    line = advice_for(Path("/dev/gpiochip0"), "gpio", "gpio", member=True)
    assert "install systemd/99-earmark-input.rules" in line


def test_the_udev_rule_ships_with_both_groups() -> None:
    rules = Path(__file__).parents[2] / "systemd" / "99-earmark-input.rules"
    text = rules.read_text()
    assert 'KERNEL=="event*", GROUP="input"' in text
    assert 'KERNEL=="gpiochip*", GROUP="gpio"' in text
    assert os.path.getsize(rules) > 0
