"""How the browser tests and scripts/bench_console.py start Chromium: Debian's build, headless.

Playwright's own browser download cannot work here, so it drives /usr/bin/chromium
(``apt-get install chromium``; scripts/test installs it) with these switches.
"""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
