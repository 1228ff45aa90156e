"""Serves the console's built files (``dist/``, made by ``scripts/build_console``) from memory.

The page is ``/`` (its views are ``#/`` routes, so no other path needs the page); its
scripts and styles are ``/assets/<name>-<hash>.<ext>``, cached for good because a rebuild
changes their names. The gateway asks here only for paths no API route matched.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from aiohttp import web

DIST = Path(__file__).resolve().parent / "dist"
INDEX = "index.html"
# The page loads only its own files and talks only to its own origin.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
ASSET_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=31536000, immutable"}


class ConsoleSite:
    def __init__(self, dist: Path = DIST) -> None:
        self._files: dict[str, tuple[bytes, str, dict[str, str]]] = {}
        index = dist / INDEX
        if index.is_file():
            self._files["/"] = (index.read_bytes(), "text/html", PAGE_HEADERS)
            for path in sorted((dist / "assets").glob("*")):
                content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                self._files[f"/assets/{path.name}"] = (path.read_bytes(), content_type, ASSET_HEADERS)

    @property
    def available(self) -> bool:
        return bool(self._files)

    def response(self, method: str, raw_path: str) -> web.Response | None:
        """The file at ``raw_path`` for a GET or HEAD, or None when the console has no such file."""
        if method not in ("GET", "HEAD"):
            return None
        found = self._files.get("/" if raw_path == f"/{INDEX}" else raw_path)
        if found is None:
            return None
        body, content_type, headers = found
        charset = "utf-8" if content_type.startswith("text/") or content_type.endswith("javascript") else None
        return web.Response(body=body, content_type=content_type, charset=charset, headers=headers)
