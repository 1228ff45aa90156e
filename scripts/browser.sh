# Sourced by scripts/test: Debian's chromium at /usr/bin/chromium for the console's browser
# tests (Playwright drives it; Playwright's own browser download cannot work here). As root
# on a machine without it (CI), installs it with apt-get; otherwise says so, and tests/console
# skip, naming why.

ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "== chromium: /usr/bin/chromium missing and not root; tests/console will skip" >&2
    return 0
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}
