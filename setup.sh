#!/usr/bin/env bash
# Install what the project needs: Debian's libharfbuzz-subset0 (WeasyPrint writes PDFs about four times faster
# with it) where apt is available, then the package into ./.venv. `./setup.sh --test` adds the test tools.
set -euo pipefail
cd "$(dirname "$0")"

if ! ldconfig -p 2>/dev/null | grep -q 'libharfbuzz-subset\.so\.0'; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "setup: installing libharfbuzz-subset0 with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q libharfbuzz-subset0 >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && apt-get install -y -q libharfbuzz-subset0 >/dev/null; } \
      || echo "setup: could not install libharfbuzz-subset0; PDFs will be written more slowly" >&2
  elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then
    sudo apt-get install -y -q libharfbuzz-subset0 >/dev/null \
      || echo "setup: could not install libharfbuzz-subset0; PDFs will be written more slowly" >&2
  else
    echo "setup: install HarfBuzz's subsetting library for faster PDF writing (Debian/Ubuntu: libharfbuzz-subset0;" \
         "Fedora: harfbuzz; macOS: brew install harfbuzz). WeasyPrint also needs Pango >= 1.44." >&2
  fi
fi

if [ "${1:-}" = "--test" ] && ! [ -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "setup: installing chromium and chromium-driver for the browser tests" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
    || echo "setup: could not install chromium; the browser tests (tests/test_web.py) will be skipped" >&2
fi

python3 -m venv .venv
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
