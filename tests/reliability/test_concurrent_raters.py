"""Item 4: 10 rater processes submit 100 ratings each, at once, against the same MLflow
store (sqlite, WAL): 1000 ratings stored, 0 lost, 0 duplicated.

Each rater rates 100 different items (pairs of answers of a scripted 5-variant x 25-sample
run: 250 items, so raters overlap on items as in a real round), resubmits every 10th
rating (a retry), and a twin process submits rater 0's 100 ratings again at the same time
(the same submission sent twice concurrently). Counted two ways: through
``load_ratings`` and in the raw ``assessments`` table.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import workbench.testing as wt
from tests.conftest import write_spec
from tests.reliability import harness as h

pytestmark = pytest.mark.reliability

RATERS, PER_RATER, VARIANTS, SAMPLES = 10, 100, 5, 25

SPEC = f"""\
name: raters
dataset: {{path: datasets/acme_golden.jsonl, sample: {SAMPLES}}}
grid:
  prompt: [qa_terse@1]
  model: [{", ".join(f"scripted:rv{i}" for i in range(VARIANTS))}]
  retriever: [none]
thresholds: {{rouge_l: ">= 0.0"}}
scorers: [safety, rouge_l]
"""


def test_ten_rater_processes_store_every_rating_exactly_once(
    acme_dir: Path, tmp_path: Path, figure: Callable[..., None]
) -> None:
    from workbench.pipeline import run
    from workbench.ratings import RatingRound, round_items
    from workbench.tracking.feedback import load_ratings
    from workbench.tracking.read import load_experiment

    for i in range(VARIANTS):
        wt.script(f"rv{i}", answer=f"Answer number {i}.")
    result = run(write_spec(acme_dir, SPEC))
    loaded = load_experiment(result.run_id)
    variants = list(loaded.board["variant_id"])
    samples = loaded.samples(variants)
    rnd = RatingRound.create(
        experiment=loaded.experiment,
        experiment_id=loaded.experiment_id,
        run_id=loaded.run_id,
        variants=variants,
        sample_ids=sorted(samples["sample_id"].unique()),
    )
    items = sorted(round_items(rnd, samples), key=lambda i: i.item_id)
    assert len(items) == SAMPLES * VARIANTS * (VARIANTS - 1) // 2  # 250

    procs = []
    started = time.perf_counter()
    for r in range(RATERS + 1):  # the last one is rater 0's twin
        rater = f"rater{r % RATERS}"
        mine = [items[(r % RATERS * 25 + k) % len(items)] for k in range(PER_RATER)]
        path = tmp_path / f"items-{r}.json"
        payload = {"round_id": rnd.round_id, "items": [dataclasses.asdict(i) for i in mine]}
        path.write_text(json.dumps(payload))
        out = tmp_path / f"out-{r}.json"
        log = (tmp_path / f"worker-{r}.log").open("wb")
        procs.append(
            (
                out,
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.reliability.rater_worker",
                        str(path),
                        rater,
                        str(out),
                    ],
                    cwd=h.ROOT,
                    env={**os.environ, "PYTHONPATH": str(h.ROOT)},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                ),
            )
        )
    codes = [p.wait(timeout=1200) for _, p in procs]
    wall = time.perf_counter() - started
    logs = [
        (tmp_path / f"worker-{r}.log").read_text(errors="replace")[-1500:]
        for r in range(RATERS + 1)
    ]
    assert codes == [0] * (RATERS + 1), logs

    submitted = {}
    for out, _ in procs:
        for rating in json.loads(out.read_text())["ratings"]:
            previous = submitted.setdefault(rating["rating_id"], rating)
            assert {k: v for k, v in previous.items() if k != "written"} == {
                k: v for k, v in rating.items() if k != "written"
            }
    assert len(submitted) == RATERS * PER_RATER  # 1000 distinct ratings were sent

    frame = load_ratings(result.run_id, include_history=True)
    stored = set(frame["rating_id"])
    lost = set(submitted) - stored
    extra = stored - set(submitted)
    assert not lost and not extra, (sorted(lost)[:5], sorted(extra)[:5])
    assert len(frame) == 2 * len(submitted)  # one row per (rating, answer)
    assert not frame.duplicated(["rating_id", "side"]).any()
    assert frame["valid"].all()  # no rater rated an item twice: nothing overridden
    # Stored values are the submitted ones.
    for row in frame.itertuples():
        sent = submitted[row.rating_id]
        i = 0 if row.side == "left" else 1
        assert row.trace_id == sent["left_trace" if i == 0 else "right_trace"]
        assert (row.correctness, row.helpfulness) == (
            sent["correctness"][i],
            sent["helpfulness"][i],
        )
        choice = sent["choice"]
        expected = (
            choice if choice in ("tie", "both_bad") else ("win" if choice == row.side else "loss")
        )
        assert row.outcome == expected
    # The raw store: 6 HUMAN assessments per rating (3 per answer), each exactly once.
    db = h.mlflow_db(tmp_path)
    rows = h.query(
        db,
        "SELECT COUNT(*), COUNT(DISTINCT assessment_id) FROM assessments WHERE source_type = 'HUMAN'",
    )
    assert rows[0] == (6 * len(submitted), 6 * len(submitted)), rows
    written = sum(r["written"] for out, _ in procs for r in json.loads(out.read_text())["ratings"])
    figure(
        raters=RATERS,
        twin_processes=1,
        ratings_per_rater=PER_RATER,
        ratings_sent=len(submitted),
        submissions_including_retries_and_twin=(RATERS + 1) * PER_RATER
        + (RATERS + 1) * (PER_RATER // 10),
        ratings_stored=len(stored),
        lost=len(lost),
        duplicated=int(frame.duplicated(["rating_id", "side"]).sum()),
        human_assessments=rows[0][0],
        assessments_written_by_first_arrivals=written,
        wall_s=round(wall, 1),
        ratings_per_s=round(len(submitted) / wall, 1),
    )
