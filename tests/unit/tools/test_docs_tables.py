"""The docs' generated regions print what the committed measurement records hold."""

import json
import subprocess

import pytest

from tests.conftest import REPO_ROOT
from vaeops.tools.docs_tables import main, regenerated, stale_documents

DEFAULT_RUN = "docs/results/2026-12-07-ml100k-default-run.json"
BENCHMARK = "docs/results/2026-12-07-ml100k-benchmark.json"


def test_the_docs_generated_regions_are_what_the_committed_records_print():
    stale = [str(path.relative_to(REPO_ROOT)) for path in stale_documents(REPO_ROOT)]
    assert not stale, f"{stale}: run `make docs` (python -m vaeops.tools.docs_tables)"


def test_the_default_run_and_the_benchmark_are_generated_where_the_docs_give_them():
    regions = {
        "README.md": [f"{DEFAULT_RUN} default-run-time"],
        "docs/benchmarks.md": [f"{DEFAULT_RUN} default-run", f"{BENCHMARK} benchmark"],
        "docs/benchmark_pipeline.md": [f"{BENCHMARK} benchmark"],
        "docs/tuning.md": [f"{DEFAULT_RUN} default-run-training"],
    }
    for document, markers in regions.items():
        text = (REPO_ROOT / document).read_text()
        for marker in markers:
            assert f"<!-- generated: {marker} -->" in text, (document, marker)
    # The shipped default run's record: its command, the real run, and its figures.
    record = json.loads((REPO_ROOT / DEFAULT_RUN).read_text())
    assert record["command"] == "make run", "the Quick start's first command"
    assert set(record["machine"]) == {"cpu", "cores"} and len(record["git_commit"]) == 40
    multvae = record["reports"]["evaluation_report.json"]["models"]["multvae"]
    assert (
        f"| multvae    |     {multvae['ndcg_at_100']:.4f} |"
        in (REPO_ROOT / "docs/benchmarks.md").read_text()
    )


def test_a_changed_record_or_a_hand_edited_region_is_stale_and_make_docs_rewrites_it(tmp_path):
    record = {**json.loads((REPO_ROOT / DEFAULT_RUN).read_text()), "wall_seconds": 406.5}
    (tmp_path / "docs").mkdir()
    (tmp_path / "run.json").write_text(json.dumps(record))
    page = (
        "Intro\n<!-- generated: run.json default-run-time -->\n"
        "the run took 30 to 60 s\n<!-- end generated -->\nEnd\n"
    )
    (tmp_path / "README.md").write_text(page)
    assert main(["--root", str(tmp_path), "--check"]) == 1
    assert main(["--root", str(tmp_path)]) == 0
    text = (tmp_path / "README.md").read_text()
    assert "30 to 60 s" not in text and "took 6 min 46 s" in text and text.endswith("End\n")
    assert main(["--root", str(tmp_path), "--check"]) == 0
    record["wall_seconds"] = 65
    (tmp_path / "run.json").write_text(json.dumps(record))
    assert main(["--root", str(tmp_path), "--check"]) == 1


def test_a_region_naming_an_unknown_table_or_a_missing_record_says_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="Unknown generated table 'scores'"):
        regenerated(f"<!-- generated: {DEFAULT_RUN} scores -->\n<!-- end generated -->", REPO_ROOT)
    with pytest.raises(ValueError, match="missing.json does not exist: record the run first"):
        regenerated("<!-- generated: missing.json benchmark -->\n<!-- end generated -->", tmp_path)


def test_record_keeps_the_reports_with_command_machine_date_and_commit(tmp_path):
    (tmp_path / "docs" / "results").mkdir(parents=True)
    report = tmp_path / "evaluation_report.json"
    report.write_text('{"models": {}}')
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "measured"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    argv = ["--root", str(tmp_path), "record", "tiny-run", str(report), "--command", "kedro run",
            "--wall-seconds", "12", "--wall-source", "time", "--precision", "fp32",
            "--date", "2026-12-07"]  # fmt: skip
    assert main([*argv, "--commit", head[:7]]) == 0
    written = json.loads((tmp_path / "docs/results/2026-12-07-tiny-run.json").read_text())
    assert written["reports"] == {"evaluation_report.json": {"models": {}}}
    assert written["command"] == "kedro run" and written["git_commit"] == head.strip()
    with pytest.raises(SystemExit, match="'abc' names no commit"):
        main([*argv, "--commit", "abc"])
    assert written["machine"]["cores"] >= 1 and written["machine"]["cpu"]
