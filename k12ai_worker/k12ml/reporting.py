"""``info`` events, and scikit-learn's warnings turned into them.

A ``ConvergenceWarning`` on the job's stderr is lost to a user who follows the
event stream; as an event it sits next to the metrics it explains.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from k12ai_worker.events import EventWriter


def info(events: EventWriter, message: str, **fields: Any) -> None:
    events.emit("info", {"message": message, **fields})


@contextmanager
def warnings_as_info(events: EventWriter) -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        # Once per message: a warning raised per stage or per row would flood the stream.
        warnings.simplefilter("default")
        try:
            yield
        finally:
            seen: set[str] = set()
            for warning in caught:
                text = " ".join(str(warning.message).split())
                if text not in seen:
                    seen.add(text)
                    info(events, text, warning=warning.category.__name__)
