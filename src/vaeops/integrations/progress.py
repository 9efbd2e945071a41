"""Terminal progress for long training runs."""

from __future__ import annotations

from tqdm.auto import tqdm


class EpochProgressBar:
    """Trainer callback: an epoch bar showing loss, beta and validation NDCG."""

    def __init__(self, total_epochs: int, description: str = "training"):
        self._bar = tqdm(total=total_epochs, desc=description, unit="epoch", dynamic_ncols=True)

    def __call__(self, record: dict[str, float]) -> None:
        shown = {"loss": f"{record['loss']:.2f}", "beta": f"{record['beta']:.3f}"}
        shown.update(
            {
                name: f"{value:.4f}"
                for name, value in record.items()
                if name.startswith(("val_", "best_val_"))
            }
        )
        self._bar.set_postfix(shown, refresh=False)
        self._bar.update(1)
        if self._bar.n >= self._bar.total:
            self._bar.close()
