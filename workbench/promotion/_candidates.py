"""Does a variant qualify as a candidate? The release gates, then the champion.

A variant qualifies when it passes the run's gate policy and beats the current champion:
a significant improvement on the policy's ``primary_metric`` (Holm-corrected across the
metrics compared, :func:`workbench.analysis.compare_grid`) and, on every
``guard_metrics``, evidence that it is no worse than the champion by more than the
guard's margin (:func:`workbench.analysis.non_inferiority`: a one-sided paired test
against ``-margin``; "no significant regression" would be absence of evidence), paired
on the samples both were run on (same id and same question). A guard with too few
pairs fails with the number of pairs needed. With no champion, passing the gates is
enough.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.errors import ConfigError, did_you_mean
from workbench.tracking import TABLE, registry
from workbench.tracking.read import read_table

if TYPE_CHECKING:
    import pandas as pd

    from workbench.analysis import NonInferiority
    from workbench.promotion._bundle import Bundle
    from workbench.records import GateDecision, MetricInfo
    from workbench.spec import GatePolicy
    from workbench.tracking.read import LoadedRun


@dataclass
class Candidacy:
    """The evidence on one variant: gate decision, comparison with the champion, verdict."""

    experiment: str
    run_id: str
    variant_id: str
    variant: str
    variant_run_id: str
    policy: GatePolicy
    gate: GateDecision
    champion: str | None = None
    """The champion's registered version (None: no champion yet)."""
    champion_variant: str | None = None
    champion_run_id: str | None = None
    comparison: pd.DataFrame | None = None
    """``compare_grid`` rows: champion (a) against this variant (b)."""
    n_shared: int = 0
    guards: dict[str, NonInferiority] = field(default_factory=dict)
    """Per guard metric: the non-inferiority test against the champion."""
    notes: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    """Why it does not qualify (empty: it qualifies)."""

    @property
    def qualifies(self) -> bool:
        return not self.reasons

    @property
    def evidence_run_ids(self) -> list[str]:
        return [r for r in (self.run_id, self.variant_run_id, self.champion_run_id) if r]

    def row(self, metric: str) -> dict[str, Any] | None:
        if self.comparison is None:
            return None
        rows = self.comparison[self.comparison["metric"] == metric]
        return None if rows.empty else rows.iloc[0].to_dict()

    def summary(self) -> dict[str, Any]:
        """A compact, JSON-able evidence summary (stored as a version tag)."""

        def metric(name: str) -> dict[str, Any] | None:
            row = self.row(name)
            if row is None:
                return None
            return {
                "metric": name,
                "diff": _num(row["diff"]),
                "lo": _num(row["diff_lo"]),
                "hi": _num(row["diff_hi"]),
                "p_holm": _num(row["p_holm"]),
                "verdict": row["verdict"],
            }

        return {
            "gate": {
                "verdict": "pass" if self.gate.passed else "fail",
                "policy": f"{self.gate.policy}@{self.gate.policy_version}",
                "failed": [r.rule for r in self.gate.failed_rules],
            },
            "champion": self.champion,
            "n_shared": self.n_shared,
            "primary": metric(self.policy.primary_metric),
            "guards": [m for g in self.policy.guard_metrics if (m := metric(g))],
            "non_inferiority": [
                {
                    "metric": name,
                    "margin": test.margin,
                    "diff": _num(test.diff),
                    "lower": _num(test.lower),
                    "p": _num(test.p_value),
                    "n": test.n,
                    "holds": test.holds,
                    "samples_needed": _num(test.samples_needed),
                    "text": test.text("the champion"),
                }
                for name, test in self.guards.items()
            ],
            "notes": self.notes,
            "reasons": self.reasons,
        }

    def text(self) -> str:
        """One line of evidence (CLI, audit detail)."""
        parts = [f"gates {'pass' if self.gate.passed else 'FAIL'}"]
        if self.champion is None:
            parts.append("no champion yet")
        elif (row := self.row(self.policy.primary_metric)) is not None:
            parts.append(
                f"vs champion v{self.champion}: {_describe(row)} on {self.n_shared} shared samples"
            )
        if self.reasons:
            parts.append("not a candidate: " + "; ".join(self.reasons))
        return "; ".join(parts)


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else float(f"{number:.6g}")


def _fmt(value: Any) -> str:
    number = _num(value)
    return "n/a" if number is None else f"{number:.3g}"


def _describe(row: dict[str, Any]) -> str:
    return (
        f"{row['metric']} {row['verdict']} (diff {_fmt(row['diff'])}, 95% CI "
        f"[{_fmt(row['diff_lo'])}, {_fmt(row['diff_hi'])}], p Holm {_fmt(row['p_holm'])})"
    )


def _metric_infos(loaded: LoadedRun, policy: GatePolicy) -> list[MetricInfo]:
    known = {m.name: m for m in loaded.metrics}
    wanted = [policy.primary_metric, *policy.guard_metrics]
    infos = []
    for i, name in enumerate(wanted):
        if name == "pass_rate":
            continue
        if name not in known:
            where = "gates.primary_metric" if i == 0 else "gates.guard_metrics"
            raise ConfigError(
                f"{where}: '{name}' is not a metric of run {loaded.run_id}",
                hint=did_you_mean(name, known) or f"metrics: {', '.join(known)}",
            )
        if known[name] not in infos:
            infos.append(known[name])
    return infos


def _shared(champion: pd.DataFrame, candidate: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of both sides restricted to samples with the same id and question."""
    keys = ["sample_id", "question"]
    common = champion[keys].merge(candidate[keys], on=keys).drop_duplicates()
    pick = common.set_index(keys).index
    return (
        champion[champion.set_index(keys).index.isin(pick)],
        candidate[candidate.set_index(keys).index.isin(pick)],
    )


def evaluate(
    loaded: LoadedRun,
    decision: GateDecision,
    policy: GatePolicy,
    *,
    champion: str | None,
    champion_bundle: Bundle | None,
    tracking_uri: str | None = None,
) -> Candidacy:
    """Judge the gated variant of ``loaded`` against the champion (if there is one)."""
    # on use: pandas and analysis (scipy) are too heavy for `import workbench.promotion`
    import pandas as pd

    from workbench.analysis import compare_grid

    vid = decision.variant_id
    out = Candidacy(
        experiment=loaded.experiment,
        run_id=loaded.run_id,
        variant_id=vid,
        variant=decision.variant,
        variant_run_id=loaded.variant_run_ids[vid],
        policy=policy,
        gate=decision,
        champion=champion,
    )
    for rule in decision.failed_rules:
        out.reasons.append(f"gate rule {rule.rule}: {_fmt(rule.value)} is not {rule.shown_bound}")
    infos = _metric_infos(loaded, policy)
    if champion is None or champion_bundle is None:
        return out
    out.champion_variant = champion_bundle.variant
    out.champion_run_id = champion_bundle.variant_run_id
    if champion_bundle.variant_id == vid:
        out.reasons.append(
            f"variant {decision.variant} is already the champion (version {champion})"
        )
        return out
    candidate_rows = loaded.samples([vid])
    champion_rows = read_table(loaded.tracking_uri, champion_bundle.variant_run_id, TABLE)
    their, ours = _shared(champion_rows, candidate_rows)
    out.n_shared = len(ours)
    candidate_digest = _dataset_digest(loaded, vid, tracking_uri)
    if candidate_digest and candidate_digest != champion_bundle.dataset.digest:
        out.notes.append(
            f"the champion was run on dataset digest {champion_bundle.dataset.digest}, this variant "
            f"on {candidate_digest}: compared on the {out.n_shared} samples (same id and question) "
            f"both answered ({len(champion_rows)} champion rows, {len(candidate_rows)} candidate rows)"
        )
    if out.n_shared == 0:
        out.reasons.append(
            "no sample in common with the champion's run: the comparison is impossible "
            "(run both on the same golden set)"
        )
        return out
    if out.n_shared < 2:
        out.reasons.append("only 1 sample in common with the champion; a paired test needs 2")
        return out
    frame = pd.concat([their, ours], ignore_index=True)
    for info in infos:
        if info.name not in frame.columns:
            frame[info.name] = math.nan
    grid = compare_grid(frame, infos, baseline=champion_bundle.variant_id, pairs="baseline")
    out.comparison = grid
    primary = out.row(policy.primary_metric)
    if primary is None or primary["verdict"] != "better":
        detail = _describe(primary) if primary else "not compared"
        out.reasons.append(
            f"primary metric {policy.primary_metric} does not improve significantly on the "
            f"champion v{champion}: {detail}"
        )
    _guards(out, their, ours, infos)
    return out


def _guards(
    out: Candidacy,
    champion_rows: pd.DataFrame,
    candidate_rows: pd.DataFrame,
    infos: list[MetricInfo],
) -> None:
    """Each guard metric: shown non-inferior to the champion within its margin, or a reason."""
    from workbench.analysis import non_inferiority

    directions = {i.name: i.higher_is_better for i in infos}
    keys = ["sample_id", "question"]
    for guard in out.policy.guard_metrics:
        column = "passed" if guard == "pass_rate" else guard
        if column not in champion_rows.columns or column not in candidate_rows.columns:
            out.reasons.append(f"guard metric {guard}: not scored on both sides")
            continue
        pairs = champion_rows[[*keys, column]].merge(
            candidate_rows[[*keys, column]], on=keys, suffixes=("_a", "_b")
        )
        test = non_inferiority(
            pairs[f"{column}_a"].to_numpy(dtype=float),
            pairs[f"{column}_b"].to_numpy(dtype=float),
            out.policy.margin(guard),
            higher_is_better=directions.get(guard, True),
        )
        out.guards[guard] = test
        line = f"guard metric {guard}: {test.text(f'the champion v{out.champion}')}"
        (out.notes if test.holds else out.reasons).append(line)


def _dataset_digest(loaded: LoadedRun, vid: str, tracking_uri: str | None) -> str | None:
    try:
        return registry.run_info(loaded.variant_run_ids[vid], tracking_uri).params.get(
            "dataset.digest"
        )
    except Exception:
        return None
