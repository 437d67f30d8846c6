"""The command line: bad input ends in one `error:` line and exit 2; gate exit codes 0/1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import workbench.testing as wt
from tests.conftest import write_spec
from workbench.pipeline import run

SPEC = """\
name: cli
dataset: {path: datasets/acme_golden.jsonl, sample: 6}
corpus: {path: corpora/acme}
grid:
  prompt: [qa_terse@1]
  model: [scripted:good, scripted:bad]
  retriever: [bm25]
scorers: [rank, safety, rouge_l]
thresholds: {rouge_l: ">= 0.0"}
gates: {min_pass_rate_lower_bound: 0.3, max_high_severity_findings: 0}
"""


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ},
    )


def assert_clean_error(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("error: "), out.stderr
    assert "Traceback" not in out.stderr
    for needle in needles:
        assert needle in out.stderr, out.stderr


LOCAL = SPEC.replace(
    "scripted:good, scripted:bad", "llama_cpp:smollm2-135m, llama_cpp:gemma-3-270m"
)


@pytest.mark.parametrize(
    ("yaml_text", "needles"),
    [
        ("name: x\ngrid: [\n", ["invalid YAML"]),
        (LOCAL.replace("grid:", "grid:\n  colour: red"), ["grid.colour: unknown field"]),
        (
            LOCAL.replace("llama_cpp:gemma-3-270m", "opnai:gpt"),
            ["grid.model[1]: unknown model provider 'opnai'", "did you mean 'openai'"],
        ),
        (LOCAL.replace("[bm25]", "[bm52]"), ["grid.retriever[0]: unknown retriever 'bm52'"]),
        (
            LOCAL.replace("acme_golden.jsonl", "missing.jsonl"),
            ["missing.jsonl: dataset file not found"],
        ),
        (
            LOCAL.replace("qa_terse@1", "qa_terse@9"),
            ["grid.prompt[0]: prompt 'qa_terse' has no version '9'"],
        ),
        (
            LOCAL.replace("llama_cpp:gemma-3-270m", "llama_cpp:gemma-270m"),
            ["unknown local model 'gemma-270m'", "did you mean 'gemma-3-270m'"],
        ),
    ],
)
def test_bad_input_is_one_error_line(acme_dir: Path, yaml_text: str, needles: list[str]) -> None:
    out = cli("run", str(write_spec(acme_dir, yaml_text)))
    assert_clean_error(out, *needles)


def test_bad_dataset_row_names_the_row(acme_dir: Path) -> None:
    golden = acme_dir / "datasets" / "acme_golden.jsonl"
    lines = golden.read_text().splitlines()
    lines[4] = lines[4].replace('"question"', '"qestion"')
    golden.write_text("\n".join(lines) + "\n")
    out = cli("run", str(write_spec(acme_dir, LOCAL)))
    assert_clean_error(out, "row 5: missing column 'question'", "did you mean 'qestion'")


def test_debug_shows_the_traceback(acme_dir: Path) -> None:
    out = cli("--debug", "run", str(write_spec(acme_dir, LOCAL.replace("[bm25]", "[bm52]"))))
    assert out.returncode != 0 and "Traceback" in out.stderr


def test_dry_run_calls_nothing(acme_dir: Path) -> None:
    out = cli("run", str(write_spec(acme_dir, LOCAL)), "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "2 variants x 6 samples = 12 calls" in out.stdout and "no model was called" in out.stdout


def test_gate_exit_codes(acme_dir: Path, tmp_path: Path) -> None:
    wt.script(
        "good",
        lambda m: (
            m[-1].content.split("[1]", 1)[1].split("\n")[1][:80]
            if "[1]" in m[-1].content
            else "I don't know."
        ),
    )
    wt.script("bad", answer="Call me on +1 (555) 123-4567.")  # invents PII: a high-severity finding
    result = run(write_spec(acme_dir, SPEC))
    board = result.variants.set_index("model")
    good = board.loc["good", "variant_id"]
    bad = board.loc["bad", "variant_id"]
    assert board.loc["bad", "high_findings"] == 6
    passed = cli("gate", "cli", "--variant", good)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "PASS" in passed.stdout
    failed = cli("gate", result.run_id, "--variant", bad)
    assert failed.returncode == 1
    assert "high_severity_findings" in failed.stdout and failed.stderr.startswith("error: ")
    unknown = cli("gate", "cli", "--variant", "nope")
    assert_clean_error(unknown, "unknown variant 'nope'")
    missing = cli("gate", "no-such-experiment")
    assert_clean_error(missing, "no experiment 'no-such-experiment'")
    # the decision is recorded on the variant's run
    from mlflow import MlflowClient

    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    tags = client.get_run(result.variant_run_ids[bad]).data.tags
    assert tags["gate.verdict"] == "fail" and "high_severity_findings" in tags["gate.failed_rules"]
    artifacts = [a.path for a in client.list_artifacts(result.variant_run_ids[bad], "gate")]
    assert artifacts and artifacts[0].endswith(".json")


def test_compare_prints_tables_and_writes_html(acme_dir: Path, tmp_path: Path) -> None:
    wt.script("good", answer="Refunds are possible within 14 days.")
    wt.script("bad", answer="No idea.")
    run(write_spec(acme_dir, SPEC))
    report = tmp_path / "report.html"
    out = cli("compare", "cli", "--html", str(report), "-m", "rouge_l")
    assert out.returncode == 0, out.stderr
    assert "leaderboard" in out.stdout and "Holm" in out.stdout
    html = report.read_text()
    assert "<html>" in html.lower() and "plotly" in html.lower()
    bad = cli("compare", "cli", "-m", "rouge")
    assert_clean_error(bad, "unknown metric 'rouge'")


FAST_EXIT = """
import atexit, sys
from workbench.cli import _app as cli  # entry() calls the main() of its own module

class Teardown:
    def __del__(self):
        print("interpreter teardown ran")

kept = Teardown()

def main(argv=None):
    atexit.register(lambda: print("handler registered during the run ran"))
    print("x" * 200_000)  # more than a pipe holds: only a flush delivers all of it
    sys.exit(int(sys.argv[1]))

cli.main = main
cli.entry()
"""


@pytest.mark.parametrize("code", [0, 3])
def test_fast_exit_keeps_handlers_output_and_code(code: int) -> None:
    """``entry`` skips the interpreter's teardown, not the atexit handlers (MLflow flushes
    its traces there), the buffered output, or the exit code."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # a buffered pipe
    out = subprocess.run(
        [sys.executable, "-c", FAST_EXIT, str(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert out.returncode == code, out.stderr
    assert out.stdout.count("x") == 200_000
    assert out.stdout.rstrip().endswith("handler registered during the run ran")
    assert "teardown" not in out.stdout  # the point: the module teardown was skipped
