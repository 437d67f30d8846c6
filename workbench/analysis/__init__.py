"""Pure analysis over result frames: leaderboard, CIs, paired tests, Pareto, agreement.

No I/O, no MLflow: every function takes pandas DataFrames (the wide ``samples`` frame:
one row per variant x sample, one float column per metric) and returns a new one, so
the app and a notebook show the same numbers. Figures live in
:mod:`workbench.analysis.figures`, which imports plotly when it is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.analysis._agreement import (
    MIN_KAPPA,
    MIN_RATINGS,
    fleiss_kappa,
    krippendorff_alpha,
    metric_human_agreement,
)
from workbench.analysis._bounds import (
    MIN_N_SKEWED_BOUND,
    Bound,
    mean_bound,
    quantile_bound,
    quantile_samples_needed,
    rate_bound,
)
from workbench.analysis._effects import EFFECT_COLUMNS, factor_effects, factor_importance
from workbench.analysis._errors import AnalysisError, InsufficientDataError
from workbench.analysis._frame import DEFAULT_FACTORS, PASS_METRIC, PASS_RATE
from workbench.analysis._grid import GRID_COLUMNS, compare_grid, holm
from workbench.analysis._intervals import (
    DEFAULT_RESAMPLES,
    MIN_N,
    MIN_N_SKEWED,
    Interval,
    mean_ci,
    mean_method,
    paired_diff_ci,
    wilson_bounds,
    wilson_interval,
)
from workbench.analysis._leaderboard import (
    BOUND_CONFIDENCE,
    LOWER_IS_BETTER,
    leaderboard,
    pareto_front,
)
from workbench.analysis._noninferiority import NonInferiority, non_inferiority
from workbench.analysis._paired import COMPARISON_COLUMNS, compare_pair, rank_biserial
from workbench.analysis._pairwise import WINNERS, bradley_terry, position_bias
from workbench.analysis._power import (
    mcnemar_min_detectable_difference,
    mcnemar_samples_needed,
    min_detectable_difference,
    samples_needed,
    samples_to_certify,
)

if TYPE_CHECKING:
    from workbench.analysis import figures

__all__ = [
    "BOUND_CONFIDENCE",
    "COMPARISON_COLUMNS",
    "DEFAULT_FACTORS",
    "DEFAULT_RESAMPLES",
    "EFFECT_COLUMNS",
    "GRID_COLUMNS",
    "LOWER_IS_BETTER",
    "MIN_KAPPA",
    "MIN_N",
    "MIN_N_SKEWED",
    "MIN_N_SKEWED_BOUND",
    "MIN_RATINGS",
    "PASS_METRIC",
    "PASS_RATE",
    "WINNERS",
    "AnalysisError",
    "Bound",
    "InsufficientDataError",
    "Interval",
    "NonInferiority",
    "bradley_terry",
    "compare_grid",
    "compare_pair",
    "factor_effects",
    "factor_importance",
    "figures",
    "fleiss_kappa",
    "holm",
    "krippendorff_alpha",
    "leaderboard",
    "mcnemar_min_detectable_difference",
    "mcnemar_samples_needed",
    "mean_bound",
    "mean_ci",
    "mean_method",
    "metric_human_agreement",
    "min_detectable_difference",
    "non_inferiority",
    "paired_diff_ci",
    "pareto_front",
    "position_bias",
    "quantile_bound",
    "quantile_samples_needed",
    "rank_biserial",
    "rate_bound",
    "samples_needed",
    "samples_to_certify",
    "wilson_bounds",
    "wilson_interval",
]


def __getattr__(name: str) -> Any:
    """Import :mod:`workbench.analysis.figures` (and so plotly) on first access only."""
    if name == "figures":
        import importlib

        return importlib.import_module("workbench.analysis.figures")
    raise AttributeError(f"module 'workbench.analysis' has no attribute '{name}'")
