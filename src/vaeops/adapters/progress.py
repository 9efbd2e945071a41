"""Progress of long training runs, for a person at a terminal or a log file.

At a terminal, a bar that fits 80 columns; without one (cron, systemd, CI, a
redirected log) one log line every few epochs, since carriage-return updates
would fill a log file with thousands of partial lines.
"""

from __future__ import annotations

import logging
import sys

from tqdm.auto import tqdm

logger = logging.getLogger("vaeops.progress")


def _summary(record: dict[str, float]) -> str:
    parts = [f"loss {record['loss']:.2f}"]
    if "beta" in record:
        parts.append(f"β {record['beta']:.3f}")
    validation = next((k for k in record if k.startswith("val_")), None)
    if validation:
        parts.append(f"val {record[validation]:.4f}")
    return " ".join(parts)


class EpochProgressBar:
    """Trainer callback showing loss, β (when annealed) and validation NDCG."""

    def __init__(self, total_epochs: int, description: str = "training", log_every: int = 10):
        self._description, self._total, self._log_every = description, total_epochs, log_every
        self._bar = (
            tqdm(
                total=total_epochs,
                desc=description,
                unit="epoch",
                ncols=80,
                bar_format="{desc} {n_fmt}/{total_fmt} {bar:12} {postfix} {elapsed}<{remaining}",
            )
            if sys.stderr.isatty()
            else None
        )

    def __call__(self, record: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(_summary(record), refresh=False)
            self._bar.update(1)
        elif record["epoch"] % self._log_every == 0 or record["epoch"] == self._total:
            logger.info(
                "%s epoch %d/%d: %s",
                self._description,
                record["epoch"],
                self._total,
                _summary(record),
            )

    def close(self) -> None:
        """End the bar where training ended, which early stopping makes before the total."""
        if self._bar is not None:
            self._bar.close()
