"""The title every report opens with: what it is, on which data, from which run, by
which command and when, so that a report read alone says where it came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunFacts:
    """Where a report came from; the job that writes it gathers them."""

    dataset: str
    run_id: str | None  # the MLflow run, None when the run was not tracked
    command: str
    date: str


def titled(markdown: str, facts: RunFacts) -> str:
    """``markdown``, whose first line is its ``# heading``, with the data set in the
    heading and a line of provenance under it."""
    heading, _, body = markdown.partition("\n")
    if not heading.startswith("# "):
        raise ValueError(f"A report opens with a '# ' heading; this one opens with {heading!r}.")
    provenance = f"MLflow run {facts.run_id or 'untracked'} · `{facts.command}` · {facts.date}"
    return f"{heading} · {facts.dataset}\n\n{provenance}\n{body}"
