"""Throughput benchmark of Mult-VAE training and full-ranking evaluation.

    python -m vaeops.tools.speed_training --data gowalla --device cpu --epochs 2
    python -m vaeops.tools.speed_training --synthetic ml20m --batch-size 4096 --precision bf16

Prints one JSON line. Needs only torch, numpy and scipy, so it runs on a bare
GPU machine. Throughput is in users per second; the FLOP estimate counts the
matrix products of the model (the sparse input layer by its stored values),
and ``device_matmul_tflops`` is a dense matmul measured on the same device in
the same precision, so ``fraction_of_matmul_peak`` says how close training
comes to what the hardware delivers for this kind of work.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
import yaml

from vaeops.data.lightgcn import read_user_items
from vaeops.data.sparse import DeviceCSR, binary_csr, resolve_device
from vaeops.recommenders.metrics import Evaluation, evaluate
from vaeops.recommenders.models import Autoencoder, build_model, saved_config
from vaeops.recommenders.precision import PRECISIONS
from vaeops.recommenders.settings import ModelParameters, TrainingParameters
from vaeops.recommenders.training import TrainingLoop

# (users, items), interactions. "tiny" is for smoke tests of the harness itself.
SYNTHETIC_SHAPES = {
    "ml20m": ((136_677, 20_108), 10_000_000),
    "tiny": ((2_000, 500), 40_000),
}
DEFAULT_GOWALLA_DIR = Path("../shared/data/gowalla")
EVAL_KS = (20, 50, 100)


def gowalla(folder: Path) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """Train matrix; for evaluation, train items are the fold-in and test items the targets."""
    if not (folder / "train.txt").is_file():
        raise SystemExit(
            f"No Gowalla train.txt in {folder}. Pass --data-dir with the LightGCN files "
            "(train.txt, test.txt), e.g. ../shared/data/gowalla."
        )
    pairs = []
    for name in ("train.txt", "test.txt"):
        with (folder / name).open("rb") as stream:
            pairs.append(read_user_items(stream, str(folder / name)))
    (train_users, train_items), (test_users, test_items) = pairs
    shape = (
        int(max(train_users.max(), test_users.max())) + 1,
        int(max(train_items.max(), test_items.max())) + 1,
    )
    train = binary_csr(train_users, train_items, shape)
    return train, train, binary_csr(test_users, test_items, shape)


def synthetic(name: str, seed: int) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """A random log of the named shape with power-law (Zipf-like) item popularity
    and log-normal user activity.

    All users train; the last 10% (at most 10,000, the paper's test-set size)
    also serve as evaluation users with 20% of their items hidden."""
    rng = np.random.default_rng(seed)
    (n_users, n_items), n_interactions = SYNTHETIC_SHAPES[name]
    activity = rng.lognormal(mean=0.0, sigma=1.0, size=n_users)
    per_user = np.maximum(5, np.round(activity / activity.sum() * n_interactions)).astype(np.int64)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    items = rng.choice(n_items, size=int(per_user.sum()), p=popularity / popularity.sum())
    rows = np.repeat(np.arange(n_users), per_user)
    matrix = binary_csr(rows, items, (n_users, n_items))
    held = matrix[-min(10_000, n_users // 10) :].tocoo()
    is_target = rng.random(held.nnz) < 0.2
    fold_in = binary_csr(held.row[~is_target], held.col[~is_target], held.shape)
    target = binary_csr(held.row[is_target], held.col[is_target], held.shape)
    return matrix, fold_in, target


def model_flops_per_user(
    config: ModelParameters, n_items: int, mean_nnz: float
) -> tuple[float, float]:
    """Forward FLOPs per user and training FLOPs per user (forward + backward)."""
    first = config.hidden_dims[0] if config.hidden_dims else config.latent_dim
    encoder_out = 2 * config.latent_dim if config.kind == "multvae" else config.latent_dim
    encoder = [*config.hidden_dims, encoder_out]
    decoder = [config.latent_dim, *reversed(config.hidden_dims), n_items]
    dense = sum(a * b for a, b in pairwise(encoder)) + sum(a * b for a, b in pairwise(decoder))
    sparse_input = mean_nnz * first
    forward = 2 * dense + 2 * sparse_input
    # Backward: two products per dense layer, only the weight gradient for the sparse input.
    return forward, 6 * dense + 4 * sparse_input


def measured_matmul_tflops(device: torch.device, precision: str) -> float:
    size = 4096 if device.type == "cuda" else 1536
    dtype = PRECISIONS[precision] or torch.float32
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    repeats = 20 if device.type == "cuda" else 3
    torch.mm(a, b)
    synchronize(device)
    started = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    synchronize(device)
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e12


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{device.type} ({torch.get_num_threads()} threads)"


def training_settings(args: argparse.Namespace) -> TrainingParameters:
    """The ``training`` block of ``--parameters`` (Mult-VAE as the YAML sets it), with the
    benchmark's epochs, seed and precision and any batch size or device given."""
    block = yaml.safe_load(Path(args.parameters).read_text())["training"]
    given = {
        "batch_size": args.batch_size,
        "eval_batch_size": args.eval_batch_size,
        "device": args.device,
    }
    block.update({key: value for key, value in given.items() if value is not None})
    block.update(epochs=args.epochs, seed=args.seed, precision=args.precision)
    block["model"]["kind"] = "multvae"
    return TrainingParameters.model_validate(block)


def run(args: argparse.Namespace) -> dict:
    settings = training_settings(args)
    device = resolve_device(settings.device)
    if args.synthetic:
        train, fold_in, target = synthetic(args.synthetic, args.seed)
        data_name = f"synthetic-{args.synthetic}"
    else:
        train, fold_in, target = gowalla(Path(args.data_dir))
        data_name = "gowalla"
    torch.manual_seed(args.seed)
    model = build_model(settings.model, train.shape[1]).to(device)
    loop = TrainingLoop(model, DeviceCSR(train, device), settings, args.precision)
    evaluate_now = _evaluator(model, fold_in, target, settings, device)
    epoch_seconds = _timed_epochs(loop, evaluate_now, args.eval_every, device)
    synchronize(device)
    started = time.perf_counter()
    result = evaluate_now()
    synchronize(device)
    eval_seconds = time.perf_counter() - started
    if args.save_weights:
        torch.save(
            {"model_config": saved_config(model), "state_dict": model.state_dict()},
            args.save_weights,
        )
    # The first epoch pays one-off costs (allocator warm-up, kernel selection).
    seconds_per_epoch = float(np.mean(epoch_seconds[1:] or epoch_seconds))
    forward_flops, train_flops = model_flops_per_user(
        settings.model, train.shape[1], train.nnz / train.shape[0]
    )
    train_tflops = train_flops * train.shape[0] / seconds_per_epoch / 1e12
    matmul_tflops = measured_matmul_tflops(device, args.precision)
    return {
        "data": data_name,
        "users": train.shape[0],
        "items": train.shape[1],
        "interactions": int(train.nnz),
        "device": device_name(device),
        "torch": torch.__version__,
        "precision": args.precision,
        "batch_size": settings.batch_size,
        "epochs": args.epochs,
        "epoch_seconds": [round(s, 3) for s in epoch_seconds],
        "seconds_per_epoch": round(seconds_per_epoch, 3),
        "train_users_per_second": round(train.shape[0] / seconds_per_epoch, 1),
        "eval_users": fold_in.shape[0],
        "eval_seconds": round(eval_seconds, 3),
        "eval_users_per_second": round(fold_in.shape[0] / eval_seconds, 1),
        "eval_metrics": _rounded(result.summary()),
        "peak_memory_mb": round(peak_memory_mb(device), 1),
        "train_tflops": round(train_tflops, 4),
        "eval_tflops": round(forward_flops * fold_in.shape[0] / eval_seconds / 1e12, 4),
        "device_matmul_tflops": round(matmul_tflops, 4),
        "fraction_of_matmul_peak": round(train_tflops / matmul_tflops, 3),
    }


def _evaluator(
    model: Autoencoder,
    fold_in: sp.csr_matrix,
    target: sp.csr_matrix,
    settings: TrainingParameters,
    device: torch.device,
) -> Callable[[], Evaluation]:
    """Full ranking of the evaluation users, in the benchmark's precision."""
    eval_fold_in, eval_target = DeviceCSR(fold_in, device), DeviceCSR(target, device)
    dtype = PRECISIONS[settings.precision]

    def evaluate_now() -> Evaluation:
        model.eval()
        with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            return evaluate(
                model.score,
                eval_fold_in,
                eval_target,
                ks=EVAL_KS,
                batch_size=settings.eval_batch_size,
            )

    return evaluate_now


def _timed_epochs(
    loop: TrainingLoop,
    evaluate_now: Callable[[], Evaluation],
    eval_every: int,
    device: torch.device,
) -> list[float]:
    """Each epoch's seconds; with ``eval_every``, a learning-curve point on stderr."""
    epoch_seconds = []
    synchronize(device)
    started = time.perf_counter()
    for epoch in range(1, loop.config.epochs + 1):
        record = loop.run_epoch()
        synchronize(device)
        epoch_seconds.append(time.perf_counter() - started)
        if eval_every and epoch % eval_every == 0 and epoch < loop.config.epochs:
            # A learning curve for diagnosis only: the reported figures are
            # always those of the last epoch, never the best evaluation.
            curve_point = {
                "epoch": epoch,
                "loss": round(record["loss"], 4),
                "beta": round(record["beta"], 5),
            }
            curve_point.update(_rounded(evaluate_now().summary()))
            print(json.dumps(curve_point), file=sys.stderr, flush=True)
        synchronize(device)
        started = time.perf_counter()
    return epoch_seconds


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 4) for name, value in metrics.items()}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m vaeops.tools.speed_training", description=__doc__.split("\n")[0]
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", choices=["gowalla"], help="a real dataset (read from --data-dir)")
    source.add_argument(
        "--synthetic", choices=sorted(SYNTHETIC_SHAPES), help="a generated matrix of this shape"
    )
    parser.add_argument(
        "--data-dir", default=str(DEFAULT_GOWALLA_DIR), help="folder with train.txt/test.txt"
    )
    parser.add_argument(
        "--parameters",
        default="conf/base/parameters_training.yml",
        help="the YAML whose training block sets the model and what is not given here",
    )
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:1, mps (default: the YAML's)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, help="default: the YAML's")
    parser.add_argument("--eval-batch-size", type=int, help="default: the YAML's")
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default="fp32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--save-weights", metavar="PATH", help="save the last epoch's model here (torch.save)"
    )
    parser.add_argument(
        "--eval-every",
        type=int,
        default=0,
        metavar="N",
        help="also evaluate every N epochs and print the point to stderr (a learning curve)",
    )
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    print(json.dumps(run(parse_args(sys.argv[1:] if argv is None else argv))))


if __name__ == "__main__":
    main()
