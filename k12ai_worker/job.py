"""The job itself: ``python -m k12ai_worker.job <spec.json>``, started by the supervisor.

Exit status: 0 finished, ``EXIT_BAD_INPUT`` the user's input was wrong (an ``error`` event
says which key), 1 a crash: an ``error`` event gives its summary (the exception's type and
message), the traceback goes to stderr and so into the job's log.
"""

from __future__ import annotations

import socket
import sys
import traceback
from pathlib import Path

from k12ai_contract.codes import WorkerCode
from k12ai_contract.errors import ConfigError, InputRefusedError, MissingArtefactError
from k12ai_contract.events import EventType
from k12ai_contract.jobs import JobKind, JobState
from k12ai_contract.spec import JobSpec
from k12ai_contract.worker import EXIT_BAD_INPUT
from k12ai_worker import frameworks, inputs
from k12ai_worker.cpu_share import limit_threads, threads_report
from k12ai_worker.events import EventWriter
from k12ai_worker.model_runs import check_model
from k12ai_worker.results import ResultRecorder

# A summary is a line, not an essay: a longer exception message is cut.
MAX_SUMMARY_CHARS = 500
EXIT_CRASHED = 1


def run_job(spec: JobSpec) -> int:
    # Before numpy, scikit-learn or torch is imported: their thread pools size themselves on load.
    limit_threads(spec.cpu_threads)
    events = ResultRecorder(spec)
    inputs.allow(spec.data_access)
    try:
        _check_cache_dir(spec)
        framework = frameworks.load(spec.service_name)
        framework.validate(spec.kind, spec.params)
        events.emit(EventType.STATUS, {"state": JobState.RUNNING, "job_id": spec.job_id})
        if spec.kind is not JobKind.TRAIN:
            check_model(spec)
        framework.run(spec, events)
        events.finish()
    except (ConfigError, InputRefusedError, MissingArtefactError) as exc:
        events.emit(EventType.ERROR, {"code": exc.code, "descr": exc.code.descr, "message": str(exc)})
        return EXIT_BAD_INPUT
    except Exception as exc:
        traceback.print_exc()
        code = WorkerCode.INTERNAL_ERROR
        events.emit(EventType.ERROR, {"code": code, "descr": code.descr, "message": crash_summary(exc)})
        return EXIT_CRASHED
    finally:
        _report_threads(spec, events)
        events.close()
    return 0


def _check_cache_dir(spec: JobSpec) -> None:
    # The server made it before the start: a node that cannot see it has no shared data root.
    if not spec.cache_dir.is_dir():
        raise MissingArtefactError(
            f"the cache directory {spec.cache_dir} does not exist on node {socket.gethostname()}: "
            "every node must see the data roots at the same path (shared storage)"
        )


def _report_threads(spec: JobSpec, events: EventWriter) -> None:
    try:
        events.emit(EventType.INFO, threads_report(spec.cpu_threads))
    except Exception:
        # A report about the job must never change how the job ends.
        traceback.print_exc()


def crash_summary(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = " ".join(text.split())
    if len(text) > MAX_SUMMARY_CHARS:
        text = text[: MAX_SUMMARY_CHARS - 3] + "..."
    return f"{text} (the traceback is in the job's log)"


if __name__ == "__main__":
    sys.exit(run_job(JobSpec.load(Path(sys.argv[1]))))
