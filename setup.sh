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

# The tests also need real servers and a real browser: Debian's Postfix (a test MTA on a loopback port, started
# by the tests themselves; no mail leaves the machine), chromium and chromium-driver (the web pages).
if [ "${1:-}" = "--test" ]; then
  missing=""
  command -v postfix >/dev/null || missing="$missing postfix"
  command -v chromium >/dev/null || missing="$missing chromium"
  command -v chromedriver >/dev/null || missing="$missing chromium-driver"
  if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    if command -v apt-get >/dev/null && { [ -z "$sudo" ] || command -v sudo >/dev/null; }; then
      echo "setup: installing$missing with apt-get" >&2
      # no questions: Postfix is configured by each test for itself, never as this machine's mail system
      echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections 2>/dev/null || true
      export DEBIAN_FRONTEND=noninteractive
      # shellcheck disable=SC2086
      $sudo apt-get install -y -q $missing >/dev/null 2>&1 \
        || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q $missing >/dev/null; } \
        || echo "setup: could not install$missing; the tests that need them will be skipped, saying why" >&2
    else
      echo "setup: no apt-get here: install$missing yourself (Fedora: dnf install postfix chromium" \
           "chromedriver; macOS: brew install postfix, Chrome and chromedriver); until then the tests that need" \
           "them are skipped, saying why" >&2
    fi
  fi
fi

python3 -m venv .venv
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
