"""A training's model archive: written into its own run folder, then made the project's latest.

Each training keeps its archive at ``{cache_dir}/runs/{job_id}/model.tar.gz`` (see
``k12ai_contract.rundir.ProjectDir``); after every write the project's ``model.tar.gz``,
the seed's path, becomes a hard link to it, swapped in by one rename, so a reader there
sees the previous model or the new one, never half of either.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Mapping

from k12ai_contract.errors import MissingArtefactError
from k12ai_contract.model_origin import ORIGIN_MEMBER, ModelOrigin, framework_mismatch
from k12ai_contract.spec import JobSpec


def with_origin(spec: JobSpec, members: Mapping[str, bytes]) -> dict[str, bytes]:
    """The archive's members with its origin first, where ``read_model_origin`` looks."""
    return {ORIGIN_MEMBER: ModelOrigin(spec.service_name, spec.job_id).to_member(), **members}


def publish_latest(spec: JobSpec) -> None:
    """Make the run's archive the project's ``model.tar.gz``."""
    latest = spec.latest_archive
    tmp = latest.with_name(f".{latest.name}.{spec.job_id}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(spec.model_archive, tmp)
    except OSError:
        # A file system without hard links: a copy, still swapped in by one rename.
        shutil.copyfile(spec.model_archive, tmp)
    try:
        tmp.replace(latest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def check_model(spec: JobSpec) -> None:
    """The archive an evaluate or predict reads is there and this framework's (MissingArtefactError if not).

    The server checked this at the request; a training of another framework may have
    replaced the project's model since.
    """
    path = spec.model_archive
    if not path.is_file():
        raise MissingArtefactError(f"{path.name} is not found in {path.parent}")
    mismatch = framework_mismatch(path, spec.service_name)
    if mismatch is not None:
        raise MissingArtefactError(mismatch)
