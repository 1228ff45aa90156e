"""Which model an evaluate or predict uses, refused at the request when it cannot be used.

The project's latest ``model.tar.gz``, or with ``service_params.job_id`` that earlier
training's own; either must exist and come from the framework asked for (100202),
before any job starts.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from k12ai_contract.model_origin import framework_mismatch
from k12ai_contract.rundir import MODEL_ARCHIVE, ProjectDir
from k12ai_contract.spec import MODEL_RUN_PARAM
from k12ai_server.api import replies
from k12ai_server.api.replies import ApiError
from k12ai_server.security.identifiers import is_identifier


async def check_model_choice(cache_dir: Path, framework: str, model_run: object) -> None:
    project = ProjectDir(cache_dir)
    if model_run == "":
        archive = project.latest_archive
    elif isinstance(model_run, str) and is_identifier(model_run):
        archive = project.run_archive(model_run)
    else:
        raise ApiError(
            replies.INVALID_PARAMS,
            f"service_params.{MODEL_RUN_PARAM}: expected the job id of an earlier training of this "
            f"project, got {model_run!r}",
        )
    if not archive.is_file():
        hint = " (that training wrote no model, or it was removed by run retention)" if model_run else ""
        raise ApiError(replies.TASK_START_FAILED, f"{MODEL_ARCHIVE} is not found in {archive.parent}{hint}")
    # Reads the archive's first gzip block: off the event loop.
    mismatch = await asyncio.to_thread(framework_mismatch, archive, framework)
    if mismatch is not None:
        raise ApiError(replies.TASK_START_FAILED, mismatch)
