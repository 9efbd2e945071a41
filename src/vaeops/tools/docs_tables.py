"""Rewrite the generated regions of the docs from the committed measurement records,
and record a measured run as such a record.

A region reads::

    <!-- generated: docs/results/2026-12-07-ml100k-default-run.json default-run -->
    ...printed by vaeops.reports.measurements...
    <!-- end generated -->

``make docs`` (``python -m vaeops.tools.docs_tables``) rewrites every region in
README.md and docs/*.md; ``--check`` only says which differ (tests/unit/tools runs it),
so a figure in the docs cannot drift from the JSON it came from. After measuring a run::

    python -m vaeops.tools.docs_tables record ml100k-default-run \\
        --command "kedro run" --wall-seconds 150 --wall-source "/usr/bin/time" \\
        data/08_reporting/evaluation_report.json data/07_model_output/training_summary.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from vaeops.reports.measurements import TABLES

REGION = re.compile(
    r"(?P<open><!-- generated: (?P<record>\S+) (?P<table>\S+) -->\n)"
    r"(?P<body>.*?)"
    r"(?P<close><!-- end generated -->)",
    re.DOTALL,
)
DOCS = ("README.md", "docs/*.md")


def documents(root: Path) -> list[Path]:
    """The Markdown files whose regions are generated."""
    return sorted(path for pattern in DOCS for path in root.glob(pattern))


def regenerated(text: str, root: Path) -> str:
    """``text`` with every generated region printed afresh from its record."""

    def table(match: re.Match) -> str:
        name, record_path = match["table"], root / match["record"]
        if name not in TABLES:
            raise ValueError(f"Unknown generated table {name!r}; use one of {sorted(TABLES)}.")
        if not record_path.is_file():
            raise ValueError(
                f"{match['record']} does not exist: record the run first "
                "(python -m vaeops.tools.docs_tables record --help)."
            )
        record = json.loads(record_path.read_text())
        return f"{match['open']}{TABLES[name](record)}\n{match['close']}"

    return REGION.sub(table, text)


def stale_documents(root: Path) -> list[Path]:
    """The documents whose generated regions differ from what their records print."""
    return [
        path for path in documents(root) if regenerated(path.read_text(), root) != path.read_text()
    ]


def machine() -> dict:
    """The CPU's model name (lscpu) and its number of cores."""
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    model = re.search(r"^Model name:\s*(.+)$", lscpu, re.MULTILINE)
    return {"cpu": model[1].strip() if model else "unknown CPU", "cores": os.cpu_count()}


def record(args: argparse.Namespace, root: Path) -> Path:
    """Write docs/results/<date>-<name>.json: the reports, with how they were made."""
    # The full hash, whether the commit was named in short or not at all.
    named = args.commit or "HEAD"
    resolved = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{named}^{{commit}}"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if resolved.returncode != 0:
        raise SystemExit(f"--commit {named!r} names no commit of {root}; give the measured one.")
    commit = resolved.stdout.strip()
    content = {
        "name": args.name,
        "command": args.command,
        "wall_seconds": args.wall_seconds,
        "wall_source": args.wall_source,
        "machine": machine(),
        "precision": args.precision,
        "date": args.date,
        "git_commit": commit,
        "reports": {Path(path).name: json.loads(Path(path).read_text()) for path in args.reports},
    }
    target = root / "docs" / "results" / f"{args.date}-{args.name}.json"
    target.write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n")
    return target


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the project's root")
    parser.add_argument("--check", action="store_true", help="only list stale documents")
    commands = parser.add_subparsers(dest="action")
    measured = commands.add_parser("record", help="record a measured run's JSON reports")
    measured.add_argument("name", help="e.g. ml100k-default-run")
    measured.add_argument("reports", nargs="+", help="the JSON files the run wrote")
    measured.add_argument("--command", required=True, help="the command that was measured")
    measured.add_argument("--wall-seconds", type=float, required=True)
    measured.add_argument("--wall-source", required=True, help="what measured the wall time")
    measured.add_argument("--precision", required=True, help="fp32 or bf16, as the run used")
    measured.add_argument("--date", default=datetime.date.today().isoformat())
    measured.add_argument("--commit", help="the measured commit (default: HEAD)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root = args.root.resolve()
    if args.action == "record":
        print(f"wrote {record(args, root).relative_to(root)}")
        return 0
    stale = stale_documents(root)
    if args.check:
        for path in stale:
            print(f"{path.relative_to(root)}: generated regions differ; run `make docs`")
        return 1 if stale else 0
    for path in stale:
        path.write_text(regenerated(path.read_text(), root))
        print(f"rewrote {path.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
