"""Read runs back from MLflow into DataFrames: only the runs asked for.

Leaderboards come from the parent run's ``leaderboard.json`` (one artifact); per-sample
views read the ``samples.json`` table of each child run being compared (~40 ms a run).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import NotFoundError, did_you_mean
from workbench.records import MetricInfo
from workbench.tracking._run_contents import LEADERBOARD, METRICS_FILE, POLICY_FILE, TABLE
from workbench.tracking._runs import PARENT_TAG, TAG_COMPLETE, TAG_ROLE, TAG_VARIANT
from workbench.tracking._store import client, ensure_store, process_client, set_process_uri

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "METRICS_FILE",
    "POLICY_FILE",
    "LoadedRun",
    "RunInfo",
    "experiments",
    "load_experiment",
    "parent_runs",
    "read_json",
    "read_table",
    "run_info",
    "run_text",
]

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class LoadedRun:
    """One experiment run read back from MLflow."""

    experiment: str
    experiment_id: str
    run_id: str
    status: str
    start_time: int
    board: pd.DataFrame
    metrics: list[MetricInfo]
    variant_run_ids: dict[str, str]
    tracking_uri: str
    tags: dict[str, str] = field(default_factory=dict)
    _samples: pd.DataFrame | None = None

    def samples(self, variants: Sequence[str] | None = None) -> pd.DataFrame:
        """Per-sample rows of the given variants (ids, id prefixes or labels; None: all)."""
        import pandas as pd

        wanted = self.variant_ids(variants) if variants else list(self.variant_run_ids)
        if self._samples is not None and set(wanted) <= set(self._samples["variant_id"]):
            return self._samples[self._samples["variant_id"].isin(wanted)].reset_index(drop=True)
        frames = [read_table(self.tracking_uri, self.variant_run_ids[v], TABLE) for v in wanted]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if variants is None:
            self._samples = frame
        return frame

    def variant_ids(self, variants: Sequence[str]) -> list[str]:
        labels = dict(zip(self.board["variant"], self.board["variant_id"], strict=True))
        out = []
        for v in variants:
            if v in self.variant_run_ids:
                out.append(v)
            elif v in labels:
                out.append(labels[v])
            else:
                matches = [vid for vid in self.variant_run_ids if vid.startswith(v)]
                if len(matches) != 1:
                    hint = did_you_mean(v, [*labels, *self.variant_run_ids])
                    raise NotFoundError(f"unknown variant '{v}' in run {self.run_id}", hint=hint)
                out.append(matches[0])
        return out

    def label(self, variant_id: str) -> str:
        row = self.board[self.board["variant_id"] == variant_id]
        return str(row["variant"].iloc[0]) if len(row) else variant_id


def read_table(uri: str, run_id: str, name: str) -> pd.DataFrame:
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client(uri).download_artifacts(run_id, name, tmp)
        except Exception as exc:  # missing artifact
            raise NotFoundError(f"run {run_id} has no table {name}") from exc
        frame = pd.read_json(path, orient="split", dtype=False)
    return frame


def read_json(uri: str, run_id: str, name: str) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client(uri).download_artifacts(run_id, name, tmp)
        except Exception:
            return None
        return json.loads(Path(path).read_text())


def _metric_infos(data: Any) -> list[MetricInfo]:
    return [MetricInfo(**item) for item in (data or [])]


def experiments(uri: str | None = None) -> list[str]:
    """Names of the experiments in the store that hold workbench runs (newest first)."""
    uri = ensure_store(uri)
    found = client(uri).search_experiments(order_by=["last_update_time DESC"])
    return [e.name for e in found if e.name != "Default"]


def parent_runs(experiment: str, uri: str | None = None, *, max_results: int = 50) -> list[Any]:
    """Completed parent runs of an experiment, newest first."""
    uri = ensure_store(uri)
    mlflow_client = client(uri)
    exp = mlflow_client.get_experiment_by_name(experiment)
    if exp is None:
        hint = did_you_mean(experiment, experiments(uri))
        raise NotFoundError(
            f"no experiment '{experiment}' in {uri}", hint=hint or "run it first: workbench run ..."
        )
    return list(
        mlflow_client.search_runs(
            [exp.experiment_id],
            filter_string=f"tags.`{TAG_ROLE}` = 'parent' and tags.`{TAG_COMPLETE}` = 'true'",
            order_by=["attributes.start_time DESC"],
            max_results=max_results,
        )
    )


def load_experiment(experiment_or_run: str, *, tracking_uri: str | None = None) -> LoadedRun:
    """An experiment name (its newest complete run) or a run id (parent or child)."""
    uri = ensure_store(tracking_uri)
    set_process_uri(uri)
    mlflow_client = client(uri)
    run = None
    if _RUN_ID.match(experiment_or_run):
        try:
            run = mlflow_client.get_run(experiment_or_run)
        except Exception:
            run = None
        if run is not None and run.data.tags.get(PARENT_TAG):
            run = mlflow_client.get_run(run.data.tags[PARENT_TAG])
    if run is None:
        runs = parent_runs(experiment_or_run, uri, max_results=1)
        if not runs:
            raise NotFoundError(f"experiment '{experiment_or_run}' has no completed run yet")
        run = runs[0]
    exp = mlflow_client.get_experiment(run.info.experiment_id)
    board = read_table(uri, run.info.run_id, LEADERBOARD)
    ids = {
        str(v): str(r) for v, r in zip(board["variant_id"], board.get("run_id", []), strict=False)
    }
    if len(ids) < len(board):
        children = mlflow_client.search_runs(
            [exp.experiment_id],
            filter_string=f"tags.`{PARENT_TAG}` = '{run.info.run_id}'",
            max_results=5000,
        )
        ids = {
            c.data.tags[TAG_VARIANT]: c.info.run_id for c in children if TAG_VARIANT in c.data.tags
        }
    board.attrs["directions"] = {
        m.name: m.higher_is_better
        for m in _metric_infos(read_json(uri, run.info.run_id, METRICS_FILE))
    }
    return LoadedRun(
        experiment=exp.name,
        experiment_id=exp.experiment_id,
        run_id=run.info.run_id,
        status=run.info.status,
        start_time=run.info.start_time,
        board=board,
        metrics=_metric_infos(read_json(uri, run.info.run_id, METRICS_FILE)),
        variant_run_ids=ids,
        tracking_uri=uri,
        tags=dict(run.data.tags),
    )


@dataclass(frozen=True)
class RunInfo:
    """One MLflow run, as the promotion service sees it."""

    run_id: str
    experiment_id: str
    experiment: str
    status: str
    params: dict[str, str]
    tags: dict[str, str]
    parent_id: str | None


def run_info(run_id: str, uri: str | None = None) -> RunInfo:
    mlflow_client = process_client(uri)
    try:
        run = mlflow_client.get_run(run_id)
    except Exception as exc:
        raise NotFoundError(f"no MLflow run '{run_id}'") from exc
    exp = mlflow_client.get_experiment(run.info.experiment_id)
    return RunInfo(
        run_id=run.info.run_id,
        experiment_id=str(run.info.experiment_id),
        experiment=exp.name,
        status=run.info.status,
        params=dict(run.data.params),
        tags=dict(run.data.tags),
        parent_id=run.data.tags.get(PARENT_TAG),
    )


def run_text(run_id: str, path: str, uri: str | None = None) -> str | None:
    """A text artifact of a run, or None when it has none."""
    mlflow_client = process_client(uri)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = mlflow_client.download_artifacts(run_id, path, tmp)
        except Exception:
            return None
        return Path(local).read_text(encoding="utf-8")
