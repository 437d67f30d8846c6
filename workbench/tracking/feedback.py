"""Ratings stored as MLflow human feedback: the only module that writes or reads them
(the rating logic itself, items, rounds and summaries, is :mod:`workbench.ratings`).

A rating is human feedback on the traces of the two rated answers, next to the automatic
scores in the MLflow UI. Per answer (trace) and rating, three assessments, source
``HUMAN`` with the rater's name as source id:

- ``human_preference``: ``win`` / ``loss`` / ``tie`` / ``both_bad`` from this answer's
  point of view; the rater's comment is its rationale;
- ``human_correctness`` and ``human_helpfulness``: 1-5.

Each carries metadata: ``rating_id``, ``item_id``, ``round``, ``run_id`` (the parent
run), ``sample_id``, ``variant_id``, ``side`` (``left`` / ``right`` as shown),
``choice`` (the side picked), ``opponent_variant_id`` and ``opponent_trace_id``.

Exactly once: an assessment's id is derived from (rating id, trace, name), so a retried
or concurrent duplicate submission hits the store's primary key and is skipped, and a
half-written rating is completed by submitting it again. A new rating of the same item
by the same rater overrides the old assessments (MLflow keeps them with
``valid=False``). Rating rounds are JSON artifacts ``rating_rounds/<id>.json`` on the
experiment's parent run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.errors import NotFoundError, TrackingError
from workbench.ratings import CRITERIA, RATING_COLUMNS, Answer, Rating, RatingError, RatingRound
from workbench.tracking._runs import PARENT_TAG, TAG_ROLE
from workbench.tracking._store import client, ensure_store, redact, set_process_uri
from workbench.tracking.read import read_json

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities import Feedback, Run

__all__ = [
    "FEEDBACK_NAMES",
    "SubmitResult",
    "get_round",
    "list_rounds",
    "load_ratings",
    "save_round",
    "submit_rating",
]

FEEDBACK_NAMES: dict[str, str] = {c: f"human_{c}" for c in CRITERIA}
_CRITERION = {v: k for k, v in FEEDBACK_NAMES.items()}
ROUNDS_DIR = "rating_rounds"
TAG_ROUNDS = "workbench.rating_rounds"
_TRACE_ID = re.compile(r"^tr-[0-9a-f]{32}$")
_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _assessment_id(rating_id: str, trace_id: str, name: str) -> str:
    return "a-" + hashlib.sha256(f"{rating_id}|{trace_id}|{name}".encode()).hexdigest()[:32]


# --------------------------------------------------------------------------- rounds


def save_round(rating_round: RatingRound, *, tracking_uri: str | None = None) -> RatingRound:
    """Store a rating round on its parent run (same id again: overwritten, e.g. a new N)."""
    uri = ensure_store(tracking_uri)
    mlflow_client = client(uri)
    try:
        run = mlflow_client.get_run(rating_round.run_id)
    except Exception as exc:
        raise NotFoundError(f"no run {rating_round.run_id} in {redact(uri)}") from exc
    if run.data.tags.get(TAG_ROLE) != "parent":
        raise RatingError(f"run {rating_round.run_id} is not an experiment's parent run")
    mlflow_client.log_dict(
        rating_round.run_id, rating_round.to_dict(), f"{ROUNDS_DIR}/{rating_round.round_id}.json"
    )
    mlflow_client.set_tag(rating_round.run_id, TAG_ROUNDS, "true")
    return rating_round


def _rounds_of_run(mlflow_client: Any, uri: str, run_id: str) -> list[RatingRound]:
    out = []
    for entry in mlflow_client.list_artifacts(run_id, ROUNDS_DIR):
        if entry.path.endswith(".json"):
            data = read_json(uri, run_id, entry.path)
            if data:
                out.append(RatingRound.from_dict(data))
    return out


def list_rounds(
    experiment: str | None = None, *, run_id: str | None = None, tracking_uri: str | None = None
) -> list[RatingRound]:
    """Rating rounds, newest first: of one run, of one experiment, or of the whole store."""
    uri = ensure_store(tracking_uri)
    mlflow_client = client(uri)
    if run_id is not None:
        rounds = _rounds_of_run(mlflow_client, uri, run_id)
    else:
        if experiment is not None:
            exp = mlflow_client.get_experiment_by_name(experiment)
            exp_ids = [exp.experiment_id] if exp is not None else []
        else:
            exp_ids = [e.experiment_id for e in mlflow_client.search_experiments()]
        runs = (
            mlflow_client.search_runs(
                exp_ids, filter_string=f"tags.`{TAG_ROUNDS}` = 'true'", max_results=500
            )
            if exp_ids
            else []
        )
        rounds = [r for run in runs for r in _rounds_of_run(mlflow_client, uri, run.info.run_id)]
    return sorted(rounds, key=lambda r: r.created_at, reverse=True)


def get_round(run_id: str, round_id: str, *, tracking_uri: str | None = None) -> RatingRound:
    for rating_round in list_rounds(run_id=run_id, tracking_uri=tracking_uri):
        if rating_round.round_id == round_id:
            return rating_round
    raise NotFoundError(f"no rating round '{round_id}' on run {run_id}")


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class SubmitResult:
    rating_id: str
    written: int  # assessments created now
    already_stored: int  # assessments found from an earlier try of the same submission
    overrode: tuple[str, ...]  # rating ids this one replaced (the same rater's earlier rating)


def _assessments(
    mlflow_client: Any, experiment_id: str, trace_ids: Sequence[str]
) -> dict[str, list[Any]]:
    for trace_id in trace_ids:
        if not _TRACE_ID.match(trace_id):
            raise RatingError(f"'{trace_id}' is not an MLflow trace id")
    quoted = ", ".join(f"'{t}'" for t in trace_ids)
    found = mlflow_client.search_traces(
        locations=[str(experiment_id)],
        filter_string=f"attribute.request_id IN ({quoted})",
        include_spans=False,
        max_results=len(trace_ids) + 1,
    )
    out = {t.info.trace_id: list(t.info.assessments or []) for t in found}
    missing = [t for t in trace_ids if t not in out]
    if missing:
        raise NotFoundError(
            f"trace {missing[0]} is not in experiment {experiment_id}",
            hint="the rated run may have been deleted",
        )
    return out


def _metadata(rating: Rating, side: str, answer: Answer, opponent: Answer) -> dict[str, str]:
    return {
        "workbench.kind": "pairwise_rating",
        "rating_id": rating.rating_id,
        "item_id": rating.item.item_id,
        "round": rating.round_id,
        "run_id": rating.item.run_id,
        "sample_id": rating.item.sample_id,
        "variant_id": answer.variant_id,
        "side": side,
        "choice": rating.choice,
        "opponent_variant_id": opponent.variant_id,
        "opponent_trace_id": opponent.trace_id,
    }


def _previous(olds: Iterable[Any], name: str, rating: Rating) -> Any | None:
    """The rater's current (valid) assessment ``name`` of this item from an earlier rating."""
    mine = [
        a
        for a in olds
        if a.name == name
        and a.valid is not False
        and a.source is not None
        and str(a.source.source_type) == "HUMAN"
        and a.source.source_id == rating.rater
        and (a.metadata or {}).get("item_id") == rating.item.item_id
        and (a.metadata or {}).get("rating_id") != rating.rating_id
    ]
    return max(mine, key=lambda a: a.create_time_ms or 0) if mine else None


WRITE_BACKOFF_S = (0.05, 2.0)
"""First and longest wait between tries of one assessment write (doubling in between)."""


def _write(feedback: Feedback, trace_id: str, attempts: int) -> bool:
    """Create one assessment, at most ``attempts`` tries; True if written now, False if it
    was already there (a duplicate id: an earlier or concurrent try stored it)."""
    import mlflow
    import tenacity

    def once() -> bool:
        try:
            mlflow.log_assessment(trace_id=trace_id, assessment=feedback)
            return True
        except Exception:  # a duplicate id (already stored) or a busy/unreachable store
            if _stored(trace_id, str(feedback.assessment_id)):
                return False
            raise

    first, longest = WRITE_BACKOFF_S
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(attempts),
        wait=tenacity.wait_exponential(multiplier=first, max=longest),
        reraise=True,
    )
    try:
        return retrying(once)
    except Exception as exc:
        raise TrackingError(
            f"storing the rating on trace {trace_id} failed: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}",
            hint="submit again: a rating is stored once however often it is sent",
        ) from exc


def _stored(trace_id: str, assessment_id: str) -> bool:
    import mlflow

    try:
        mlflow.get_assessment(trace_id, assessment_id)
    except Exception:
        return False
    return True


def submit_rating(
    rating: Rating, *, tracking_uri: str | None = None, attempts: int = 6
) -> SubmitResult:
    """Store ``rating`` as HUMAN feedback on both answers' traces, exactly once.

    Safe to call again with the same rating (a retry completes a half-written one and
    duplicates nothing) and from many threads or processes at once. If the rater
    already rated this item, the earlier assessments are overridden (kept, ``valid=False``).
    """
    from mlflow.entities import AssessmentSource, Feedback

    uri = ensure_store(tracking_uri)
    set_process_uri(uri)
    mlflow_client = client(uri)
    traces = [rating.left.trace_id, rating.right.trace_id]
    existing = _assessments(mlflow_client, rating.item.experiment_id, traces)
    source = AssessmentSource(source_type="HUMAN", source_id=rating.rater)
    written = stored = 0
    overrode: set[str] = set()
    for side, answer, opponent in rating.sides():
        olds = existing[answer.trace_id]
        index = 0 if side == "left" else 1
        values: dict[str, Any] = {
            "preference": rating.outcome(side),
            "correctness": rating.correctness[index],
            "helpfulness": rating.helpfulness[index],
        }
        for criterion, value in values.items():
            name = FEEDBACK_NAMES[criterion]
            assessment_id = _assessment_id(rating.rating_id, answer.trace_id, name)
            if any(a.assessment_id == assessment_id for a in olds):
                stored += 1
                continue
            previous = _previous(olds, name, rating)
            if previous is not None:
                overrode.add((previous.metadata or {}).get("rating_id", previous.assessment_id))
            feedback = Feedback(
                name=name,
                value=value,
                source=source,
                rationale=(rating.comment or None) if criterion == "preference" else None,
                metadata=_metadata(rating, side, answer, opponent),
                overrides=previous.assessment_id if previous is not None else None,
            )
            feedback.assessment_id = assessment_id
            if _write(feedback, answer.trace_id, attempts):
                written += 1
            else:
                stored += 1
    return SubmitResult(rating.rating_id, written, stored, tuple(sorted(overrode)))


# --------------------------------------------------------------------------- reading


def _parent_of(mlflow_client: Any, run_id: str) -> Run:
    try:
        run = mlflow_client.get_run(run_id)
    except Exception as exc:
        raise NotFoundError(f"no run {run_id}") from exc
    if parent := run.data.tags.get(PARENT_TAG):
        run = mlflow_client.get_run(parent)
    return run


def _rated_traces(mlflow_client: Any, experiment_id: str) -> Iterable[Any]:
    token = None
    name = FEEDBACK_NAMES["preference"]
    while True:
        page = mlflow_client.search_traces(
            locations=[experiment_id],
            filter_string=f"feedback.`{name}` IS NOT NULL",
            include_spans=False,
            max_results=500,
            page_token=token,
        )
        yield from page
        token = page.token
        if not token:
            return


def load_ratings(
    run_id: str,
    *,
    round_id: str | None = None,
    include_history: bool = False,
    tracking_uri: str | None = None,
) -> pd.DataFrame:
    """The ratings of an experiment run as a tidy frame, one row per (rating, answer).

    Columns: ``item, rater, variant, side, outcome, correctness, helpfulness, comment,
    time, rating_id, round, sample_id, trace_id, opponent, opponent_trace, valid``
    (:data:`workbench.ratings.RATING_COLUMNS`). Only current ratings unless
    ``include_history`` (then overridden ones come too, ``valid=False``).
    """
    import pandas as pd

    uri = ensure_store(tracking_uri)
    mlflow_client = client(uri)
    parent = _parent_of(mlflow_client, run_id)
    parent_id = parent.info.run_id
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for trace in _rated_traces(mlflow_client, parent.info.experiment_id):
        for a in trace.info.assessments or []:
            criterion = _CRITERION.get(a.name)
            meta = a.metadata or {}
            if (
                criterion is None
                or a.source is None
                or str(a.source.source_type) != "HUMAN"
                or meta.get("run_id") != parent_id
                or (round_id is not None and meta.get("round") != round_id)
            ):
                continue
            key = (meta.get("rating_id", a.assessment_id), trace.info.trace_id)
            row = rows.setdefault(
                key,
                {
                    "item": meta.get("item_id"),
                    "rater": a.source.source_id,
                    "variant": meta.get("variant_id"),
                    "side": meta.get("side"),
                    "outcome": None,
                    "correctness": None,
                    "helpfulness": None,
                    "comment": "",
                    "time": None,
                    "rating_id": key[0],
                    "round": meta.get("round"),
                    "sample_id": meta.get("sample_id"),
                    "trace_id": trace.info.trace_id,
                    "opponent": meta.get("opponent_variant_id"),
                    "opponent_trace": meta.get("opponent_trace_id"),
                    "valid": True,
                },
            )
            value = a.value
            if criterion == "preference":
                row["outcome"] = value
                row["comment"] = a.rationale or ""
                row["time"] = a.create_time_ms
            else:
                row[criterion] = value
            row["valid"] = bool(row["valid"] and a.valid is not False)
    frame = pd.DataFrame(list(rows.values()), columns=list(RATING_COLUMNS))
    frame["valid"] = frame["valid"].astype(bool)
    if not include_history:
        frame = frame.loc[frame["valid"]]
    frame = frame.dropna(subset=["outcome"]).copy()
    for criterion in ("correctness", "helpfulness"):
        frame[criterion] = pd.to_numeric(frame[criterion], errors="coerce").astype("Int64")
    frame["time"] = pd.to_datetime(frame["time"], unit="ms", utc=True)
    return frame.sort_values(["time", "rating_id", "side"]).reset_index(drop=True)
