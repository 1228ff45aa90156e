"""Every finished job ends with a ``result`` event: what it gave, in one flat object.

A training's framework reports its own (best epoch, its validation metrics, test metrics
where configured, the run's archive). For evaluate and predict this writer watches what
the job reports and sums it up, the same for every framework: evaluate, its metrics;
predict, how many predictions and where they were written. The server keeps the result
as the job's summary (``Job.result``).
"""

from __future__ import annotations

from typing import Any

from k12ai_contract.events import EventType
from k12ai_contract.jobs import JobKind
from k12ai_contract.rundir import ProjectDir
from k12ai_contract.spec import JobSpec
from k12ai_worker.events import EventWriter


class ResultRecorder(EventWriter):
    def __init__(self, spec: JobSpec) -> None:
        super().__init__(spec.events_path)
        self._spec = spec
        self._reported = False
        self._metrics: dict[str, Any] = {}
        self._predictions = 0

    def emit(self, type: str, payload: dict[str, Any]) -> None:
        if type == EventType.RESULT:
            self._reported = True
        elif type == EventType.METRICS:
            self._metrics = payload
        elif type == EventType.PREDICT:
            self._predictions += 1
        super().emit(type, payload)

    def finish(self) -> None:
        """The job finished: its result, unless its framework reported one."""
        if not self._reported:
            self.emit(EventType.RESULT, self._summary())

    def _summary(self) -> dict[str, Any]:
        output = self._spec.params.get("output_file")
        written = {"output_file": str(ProjectDir(self._spec.cache_dir).output_file(output))} if output else {}
        if self._spec.kind is JobKind.PREDICT:
            return {"predictions": self._predictions, **written}
        return {**self._metrics, **written}
