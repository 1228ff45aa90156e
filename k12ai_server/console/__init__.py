"""The web console: a single page built from console/ (npm), shipped in dist/, served by the gateway."""

from k12ai_server.console.site import ConsoleSite

__all__ = ["ConsoleSite"]
