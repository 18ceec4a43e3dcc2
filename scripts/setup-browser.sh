#!/usr/bin/env bash
# A headless browser for the tests of the HTML pages mmpx writes (mmpx report): Debian's chromium, which the tests
# drive over the DevTools protocol (tests/browser.py). Optional: without it those tests are skipped, saying why.
#
# Idempotent (nothing to do when chromium is on PATH). Installs only as root with apt-get (CI, the project's
# machines); elsewhere it says what to run and leaves the machine alone. MMPX_NO_BROWSER=1 skips it.
set -uo pipefail

say() { printf '\033[1m[setup-browser]\033[0m %s\n' "$*"; }

if [ -n "${MMPX_NO_BROWSER:-}" ]; then
  say "MMPX_NO_BROWSER is set: the browser tests will be skipped"
  exit 0
fi
for name in chromium chromium-browser google-chrome; do
  if command -v "$name" >/dev/null; then
    say "$name found ($(command -v "$name"))"
    exit 0
  fi
done
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  say "no chromium, and it can be installed here only as root with apt-get: the browser tests will be skipped" \
    "(to run them: sudo apt-get install chromium)"
  exit 0
fi
say "installing Debian's chromium (about a minute; 300 MB)"
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; then
  say "done: $(chromium --version 2>/dev/null)"
else
  say "could not install chromium (see above): the browser tests will be skipped"
fi
exit 0
