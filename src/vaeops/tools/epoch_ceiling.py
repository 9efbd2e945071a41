"""Would picking the epoch on the test part close the gap to a published figure?

A diagnostic, never a choice: it trains Mult-VAE on a given split as
`benchmark_given_split` does with `refit: false` (the same carved validation, β
schedule, early stopping and seed) and also scores the test part after every epoch.
It prints one JSON line per epoch, then the epoch validation keeps with its test
score (the honest figure, as the pipeline reports it) beside the best test score of
any epoch trained (what choosing the epoch on the test part would report).

    python -m vaeops.tools.epoch_ceiling --data-dir ../shared/data/gowalla --anneal-cap 1.0
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from vaeops.adapters.kedro.config_loader import project_parameters
from vaeops.data.settings import CarvedValidationParameters, GivenSplitDatasetParameters
from vaeops.data.sparse import DeviceCSR, resolve_device
from vaeops.data.splits import read_given_split
from vaeops.recommenders.benchmark import given_split_data
from vaeops.recommenders.metrics import evaluate
from vaeops.recommenders.models import build_model
from vaeops.recommenders.precision import resolve_precision
from vaeops.recommenders.settings import TrainingParameters
from vaeops.recommenders.training import TrainingLoop, ValidationProgress

# The Mult-VAE block and the carve of benchmark_given_split as `kedro run` resolves them
# (run the tool from the project's folder), so the two agree.
GIVEN_SPLIT = project_parameters()["benchmark_given_split"]
MULTVAE = GIVEN_SPLIT["autoencoders"]["multvae"]
K = MULTVAE["validation_k"]  # 20, the LightGCN paper's cut-off


def main() -> None:
    args = _arguments()
    lightgcn = {"name": "lightgcn", "raw_dir": args.data_dir, "path": args.data_dir}
    split = read_given_split(GivenSplitDatasetParameters.model_validate(lightgcn))
    carve = CarvedValidationParameters.model_validate(GIVEN_SPLIT["validation"])
    data = given_split_data(split.train, split.test_target, carve, False)
    config = TrainingParameters.model_validate(
        {
            **MULTVAE,
            "model": {**MULTVAE["model"], "dropout": args.dropout},
            "epochs": args.epochs,
            "anneal_cap": args.anneal_cap,
            "patience": args.patience,
            "device": args.device,
        }
    )
    curve, progress = _train_and_score(config, data, n_items=split.train.shape[1])
    summary = {
        "settings": vars(args),
        "kept_on_validation": curve[progress.best_epoch - 1],
        "best_on_test": max(curve, key=lambda r: r[f"test_ndcg_at_{K}"]),
        "stopped_epoch": curve[-1]["epoch"],
    }
    print(json.dumps(summary), flush=True)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="a folder with train.txt and test.txt")
    parser.add_argument("--anneal-cap", type=float, default=MULTVAE["anneal_cap"], help="β's cap")
    parser.add_argument("--dropout", type=float, default=MULTVAE["model"]["dropout"])
    parser.add_argument(
        "--epochs", type=int, default=MULTVAE["epochs"], help="planned epochs (β's schedule)"
    )
    parser.add_argument("--patience", type=int, default=MULTVAE["patience"])
    parser.add_argument("--device", default=MULTVAE["device"])
    return parser.parse_args()


def _train_and_score(
    config: TrainingParameters, data, n_items: int
) -> tuple[list[dict], ValidationProgress]:
    """Train as the pipeline does, printing each epoch's validation and test scores; the
    training loop's own rule picks the kept epoch and stops."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model = build_model(config.model, n_items).to(device)
    loop = TrainingLoop(
        model, DeviceCSR(data.train, device), config, resolve_precision(config.precision, device)
    )
    parts = {
        "validation": (data.validation_fold_in, data.validation_target),
        "test": (data.test_fold_in, data.test_target),
    }
    parts = {name: tuple(DeviceCSR(m, device) for m in pair) for name, pair in parts.items()}
    started, curve, progress = time.perf_counter(), [], ValidationProgress()
    for epoch in range(1, config.epochs + 1):
        record = {"epoch": epoch, "beta": loop.run_epoch()["beta"], **_scores(model, parts)}
        record["seconds"] = round(time.perf_counter() - started)
        print(json.dumps(record), flush=True)
        curve.append(record)
        progress.observe(
            epoch, record[f"validation_ndcg_at_{K}"], model, counts=loop.at_full_kl_weight()
        )
        if progress.stale_epochs >= config.patience:
            break
    return curve, progress


def _scores(model, parts: dict) -> dict[str, float]:
    model.eval()
    record = {}
    with torch.no_grad():
        for name, (fold_in, target) in parts.items():
            summary = evaluate(model.score, fold_in, target, ks=(K,), batch_size=2000).summary()
            record[f"{name}_ndcg_at_{K}"] = summary[f"ndcg_at_{K}"]
            record[f"{name}_uncapped_recall_at_{K}"] = summary[f"uncapped_recall_at_{K}"]
    return record


if __name__ == "__main__":
    main()
