"""One rater, as a separate process, for the concurrent-raters test (item 4).

    python -m tests.reliability.rater_worker ITEMS.json RATER OUT.json [--retry-every N]

Rates its items (given in order) through ``workbench.tracking.feedback.submit_rating``
against ``$MLFLOW_TRACKING_URI``, resubmitting every N-th rating once (a retry), and
writes what it submitted to OUT.json. Rating ids are ``<rater>-<k>``, so a twin process
started with the same arguments submits the very same ratings at the same time.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from workbench.ratings import Answer, Rating, RatingItem
from workbench.tracking.feedback import submit_rating

CHOICES = ("left", "right", "tie", "both_bad")


def item_from(data: dict) -> RatingItem:
    return RatingItem(
        item_id=data["item_id"],
        experiment_id=data["experiment_id"],
        run_id=data["run_id"],
        sample_id=data["sample_id"],
        a=Answer(**data["a"]),
        b=Answer(**data["b"]),
    )


def main(argv: list[str]) -> int:
    items_path, rater, out_path = argv[:3]
    retry_every = int(argv[4]) if len(argv) > 4 and argv[3] == "--retry-every" else 10
    spec = json.loads(Path(items_path).read_text())
    submitted = []
    started = time.perf_counter()
    for k, data in enumerate(spec["items"]):
        item = item_from(data)
        flip = k % 2 == 1
        left, right = (item.b, item.a) if flip else (item.a, item.b)
        rating = Rating(
            item=item,
            rater=rater,
            left=left,
            right=right,
            choice=CHOICES[k % 4],
            correctness=(k % 5 + 1, (k + 2) % 5 + 1),
            helpfulness=((k + 1) % 5 + 1, (k + 3) % 5 + 1),
            comment=f"{rater} #{k}",
            round_id=spec["round_id"],
            rating_id=f"{rater}-{k:03d}",
        )
        result = submit_rating(rating)
        if retry_every and k % retry_every == 0:
            again = submit_rating(rating)  # a retry of the same submission
            assert again.written == 0, again
        submitted.append(
            {
                "rating_id": rating.rating_id,
                "item_id": item.item_id,
                "left_trace": left.trace_id,
                "right_trace": right.trace_id,
                "choice": rating.choice,
                "correctness": list(rating.correctness),
                "helpfulness": list(rating.helpfulness),
                "written": result.written,
            }
        )
    Path(out_path).write_text(
        json.dumps({"rater": rater, "seconds": time.perf_counter() - started, "ratings": submitted})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
