"""Relative data paths in a request, read under the data root.

A client does not know where the server keeps its data; ``"train_data_path":
"datasets/sst/train.txt"`` names ``{data_root}/datasets/sst/train.txt``. The server
writes the absolute path into the job's params, so the worker and the stored job
see what was read, and the usual checks (under the data roots, symlinks resolved)
apply to it as to any absolute path.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def rooted_inputs(
    params: dict[str, Any], inputs: Sequence[tuple[str, str]], data_root: Path
) -> dict[str, Any]:
    """``params`` with each relative input path (``inputs``: the framework's key paths) under ``data_root``.

    A path that an ``overrides`` entry gives is left as it is (and refused as relative).
    """
    relative = [(key, path) for key, path in inputs if path and not Path(path).is_absolute()]
    if not relative:
        return params
    rooted = copy.deepcopy(params)
    for key, path in relative:
        *parents, name = key.split(".")
        node: Any = rooted
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(name) == path:
            node[name] = str(data_root / path)
    return rooted
