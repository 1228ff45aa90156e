"""The job spec: the one file the server hands a worker."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from k12ai_contract.data_access import DataAccess
from k12ai_contract.jobs import JobKind
from k12ai_contract.rundir import ProjectDir

# service_params of evaluate/predict: the earlier training (its job id) whose model to use.
# The server takes it out of the params a framework sees and hands it over as ``model_run``.
MODEL_RUN_PARAM = "job_id"

# service_params, and any JSON text inside them, nest at most this deep: configs are small
# documents, and deeper nesting only serves to exhaust a parser's stack.
MAX_PARAMS_DEPTH = 16


@dataclass(frozen=True, kw_only=True)
class JobSpec:
    job_id: str
    service_name: str
    kind: JobKind
    user: str
    service_uuid: str
    params: dict[str, Any]
    # Where artefacts live: the model archive is written (train) or read here.
    cache_dir: Path
    # JSON lines the server ingests; see k12ai_contract.events.
    events_path: Path
    # Threads for PyTorch, BLAS and OpenMP: the job's share of the host's cores, so that
    # concurrent jobs do not oversubscribe them. The GPUs are the runner's to hand over
    # (k12ai_contract.worker.GPU_ENV): they are known only when the job starts.
    cpu_threads: int = 1
    # evaluate/predict: the training whose model to use; "" is the project's latest.
    model_run: str = ""
    # The data roots, resolved: the worker opens inputs under these only (see data_access);
    # none: no input file may be opened.
    data_roots: tuple[Path, ...] = ()
    # "host:port" of the server's internal EventIngestService when the server cannot read
    # ``events_path`` (a job on another node): a shipper sends the file's lines there.
    # "" when the server tails the file itself.
    ship_to: str = ""
    # The per-job secret each shipped batch carries.
    ship_secret: str = ""
    # PEM of the CA the ingest service's certificate chains to, when it serves TLS; "" when not.
    ship_ca: str = ""

    @property
    def op(self) -> str:
        return self.kind.start_op

    @property
    def model_archive(self) -> Path:
        """The archive a training writes (its run's), or the one evaluate/predict read."""
        project = ProjectDir(self.cache_dir)
        if self.kind is JobKind.TRAIN:
            return project.run_archive(self.job_id)
        return project.run_archive(self.model_run) if self.model_run else project.latest_archive

    @property
    def latest_archive(self) -> Path:
        """The project's model.tar.gz, the seed's path: a training makes its archive that one."""
        return ProjectDir(self.cache_dir).latest_archive

    @property
    def data_access(self) -> DataAccess:
        """What this job may read: its user's share of the data roots (its cache directory included)."""
        return DataAccess.of(self.data_roots, self.user)

    @classmethod
    def load(cls, path: Path) -> JobSpec:
        return cls.from_json(path.read_text(encoding="utf-8"))

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        raw = json.loads(text)
        return cls(
            job_id=raw["job_id"],
            service_name=raw["service_name"],
            kind=JobKind(raw["kind"]),
            user=raw["user"],
            service_uuid=raw["service_uuid"],
            params=raw["params"],
            cache_dir=Path(raw["cache_dir"]),
            events_path=Path(raw["events_path"]),
            cpu_threads=int(raw.get("cpu_threads", 1)),
            model_run=raw.get("model_run", ""),
            data_roots=tuple(Path(p) for p in raw.get("data_roots", [])),
            ship_to=raw.get("ship_to", ""),
            ship_secret=raw.get("ship_secret", ""),
            ship_ca=raw.get("ship_ca", ""),
        )

    def dump(self, path: Path) -> None:
        # Written once, at admission; a crash mid-write must not leave half a spec. Owner-only:
        # the spec may carry the job's shipping secret.
        partial = path.with_suffix(".tmp")
        partial.unlink(missing_ok=True)
        partial.touch(mode=0o600)
        partial.write_text(self.to_json(), encoding="utf-8")
        partial.replace(path)

    def to_json(self) -> str:
        raw = {
            "job_id": self.job_id,
            "service_name": self.service_name,
            "kind": self.kind.value,
            "user": self.user,
            "service_uuid": self.service_uuid,
            "params": self.params,
            "cache_dir": str(self.cache_dir),
            "events_path": str(self.events_path),
            "cpu_threads": self.cpu_threads,
            "model_run": self.model_run,
            "data_roots": [str(p) for p in self.data_roots],
            "ship_to": self.ship_to,
            "ship_secret": self.ship_secret,
            "ship_ca": self.ship_ca,
        }
        return json.dumps(raw)


def split_model_run(kind: JobKind, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The params a framework sees, and the run an evaluate/predict names (``service_params.job_id``)."""
    if kind is JobKind.TRAIN or MODEL_RUN_PARAM not in params:
        return params, ""
    rest = {k: v for k, v in params.items() if k != MODEL_RUN_PARAM}
    return rest, str(params[MODEL_RUN_PARAM])
