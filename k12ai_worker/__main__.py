"""Entry point of a job: ``python -m k12ai_worker <spec.json>``.

This process supervises: the job runs in a child (``k12ai_worker.job``) whose output
becomes ``log`` events (``k12ai_worker.supervisor``). Exit status is the contract with
the runner (``k12ai_contract.worker``): the job's own, and a job killed by a signal
ends this process by the same signal, so every runner reports it as it would the job's.
"""

from __future__ import annotations

import sys
from pathlib import Path

from k12ai_contract.worker import EXIT_BAD_INPUT
from k12ai_worker.child_process import exit_as
from k12ai_worker.job_start import start_job


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m k12ai_worker <spec.json>", file=sys.stderr)
        return EXIT_BAD_INPUT
    child = start_job(argv[0])
    # Imported while the job's own interpreter starts: its way to `running` does not wait for them.
    from k12ai_contract.rundir import RunDir
    from k12ai_contract.spec import JobSpec
    from k12ai_worker.supervisor import supervise

    spec = JobSpec.load(Path(argv[0]))
    code = supervise(child, spec.events_path)
    # A server that restarted while this job ran is not our parent and cannot
    # waitpid for the status; it reads this file instead.
    exit_file = RunDir(spec.events_path.parent).exit_code
    exit_file.with_suffix(".tmp").write_text(str(code))
    exit_file.with_suffix(".tmp").replace(exit_file)
    return code


if __name__ == "__main__":
    exit_as(main(sys.argv[1:]))
