"""Entry point of a job: ``python -m k12ai_worker <spec.json>``.

Exit status is the contract with the runner (``k12ai_contract.worker``): 0
finished, ``EXIT_BAD_INPUT`` the user's input was wrong (an ``error`` event says
which key), anything else a crash (the runner reports the stderr tail).
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

from k12ai_contract.errors import ConfigError, MissingArtefactError
from k12ai_contract.events import EventType
from k12ai_contract.jobs import JobKind, JobState
from k12ai_contract.rundir import RunDir
from k12ai_contract.spec import JobSpec
from k12ai_contract.worker import EXIT_BAD_INPUT
from k12ai_worker import frameworks
from k12ai_worker.events import EventWriter
from k12ai_worker.model_runs import check_model


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m k12ai_worker <spec.json>", file=sys.stderr)
        return EXIT_BAD_INPUT
    spec = JobSpec.load(Path(argv[0]))
    code = run_job(spec)
    # A server that restarted while this job ran is not our parent and cannot
    # waitpid for the status; it reads this file instead.
    exit_file = RunDir(spec.events_path.parent).exit_code
    exit_file.with_suffix(".tmp").write_text(str(code))
    exit_file.with_suffix(".tmp").replace(exit_file)
    return code


def run_job(spec: JobSpec) -> int:
    events = EventWriter(spec.events_path)
    try:
        framework = frameworks.load(spec.service_name)
        framework.validate(spec.kind, spec.params)
        events.emit(EventType.STATUS, {"state": JobState.RUNNING, "job_id": spec.job_id})
        if spec.kind is not JobKind.TRAIN:
            check_model(spec)
        framework.run(spec, events)
    except (ConfigError, MissingArtefactError) as exc:
        events.emit(EventType.ERROR, {"code": exc.code, "descr": exc.code.descr, "message": str(exc)})
        return EXIT_BAD_INPUT
    except Exception:
        # The runner turns the stderr tail into the failed status's reason.
        traceback.print_exc()
        return 1
    finally:
        events.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
