"""Why a server refuses to start, in words an operator can act on.

``k12ai-server`` prints the message of a StartRefusedError and exits 1, without a traceback:
each names what is in the way (a port, a state directory and the process holding it).
"""

from __future__ import annotations


class StartRefusedError(Exception):
    pass
