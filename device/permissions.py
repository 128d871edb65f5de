"""Why earmark cannot read its inputs, in one line each, with what to do about it."""

from __future__ import annotations

import grp
import os
from collections.abc import Callable
from pathlib import Path

RULES = "systemd/99-earmark-input.rules"


def _readable(path: Path) -> bool:
    return os.access(path, os.R_OK)


def advice_for(node: Path, group: str, wanted: str, member: bool) -> str:
    """One line for an unreadable ``node`` owned by ``group``; ``wanted`` is the usual group."""
    if group == wanted and not member:
        return (
            f"cannot read {node}: add the earmark user to the '{wanted}' group "
            f"(sudo usermod -aG {wanted} <user>) and restart earmark"
        )
    if group == wanted:
        return (
            f"cannot read {node} although earmark is in '{wanted}': install {RULES} "
            "into /etc/udev/rules.d/ and run sudo udevadm trigger"
        )
    return (
        f"cannot read {node} (group '{group}'): install {RULES} into /etc/udev/rules.d/, "
        f"run sudo udevadm trigger and add the earmark user to the '{wanted}' group"
    )


def node_advice(node: Path, wanted: str) -> str:
    """Advice for one node that could not be opened."""
    try:
        gid = node.stat().st_gid
    except OSError:
        return f"cannot read {node}: it vanished or is not a device"
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return advice_for(node, group, wanted, gid in os.getgroups())


def permission_advice(
    input_dir: Path = Path("/dev/input"),
    dev_dir: Path = Path("/dev"),
    readable: Callable[[Path], bool] = _readable,
) -> list[str]:
    """One line per kind of input earmark cannot read (headphone keys, GPIO); [] if all is well."""
    advice = []
    for nodes, wanted in (
        (sorted(input_dir.glob("event*")), "input"),
        (sorted(dev_dir.glob("gpiochip*")), "gpio"),
    ):
        blocked = [n for n in nodes if not readable(n)]
        if blocked:
            advice.append(node_advice(blocked[0], wanted))
    return advice
