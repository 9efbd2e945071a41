"""Time the Liang split on a synthetic interaction log the size of MovieLens-20M.

``python -m vaeops.tools.speed_preprocessing [--rows N] [--users N] [--items N] [--seed N]``
prints one JSON line. The log is synthetic so that the benchmark runs anywhere
without the (non-redistributable) MovieLens files, but shaped like ML-20M:
Zipf-like item popularity, heavy-tailed user activity, half-star ratings with
ML-20M's rough distribution (about half above 3.5), one row per (user, item),
rows sorted by user as in ``ratings.csv``.

Generation is timed apart from the split and can set the process's peak RSS,
so besides ``ru_maxrss`` the resident set is sampled while the split runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from vaeops.data.settings import PreprocessingParameters
from vaeops.data.splits import liang_split, split_summary

HALF_STAR_RATINGS = np.arange(1, 11) / 2
# Approximate share of each half-star rating in ML-20M, 0.5 to 5.0.
RATING_SHARES = np.array([0.012, 0.033, 0.014, 0.072, 0.044, 0.214, 0.110, 0.278, 0.077, 0.146])
# Popularity of the item of rank r is proportional to (r + OFFSET) ** -EXPONENT; the
# offset flattens the head so the top item takes a fraction of a percent of all
# ratings, as in ML-20M, instead of the ~10% of a pure Zipf law.
POPULARITY_OFFSET = 50.0
POPULARITY_EXPONENT = 1.1
USER_ACTIVITY_SIGMA = 1.2
# ML-20M keeps only users with at least 20 ratings.
MIN_USER_ACTIVITY = 20
TOP_UP_ROUNDS = 8
PAPER_HELDOUT_USERS = 10_000
MB = 1024 * 1024


def generate_interactions(n_rows: int, n_users: int, n_items: int, seed: int) -> pd.DataFrame:
    """About ``n_rows`` distinct (user, item) pairs with ratings.

    Items are drawn with replacement from the popularity law and duplicates
    removed; users short of their activity draw again, for a few rounds, so the
    heaviest users may end slightly short and the row count slightly under
    ``n_rows``.
    """
    rng = np.random.default_rng(seed)
    activity = _user_activity(rng, n_rows, n_users, n_items)
    popularity = (np.arange(n_items) + POPULARITY_OFFSET) ** -POPULARITY_EXPONENT
    cumulative = np.cumsum(popularity)
    cumulative /= cumulative[-1]

    pairs = np.empty(0, dtype=np.int64)  # user * n_items + popularity rank, sorted, distinct
    shortfall = activity
    for _ in range(TOP_UP_ROUNDS):
        users = np.repeat(np.arange(n_users, dtype=np.int64), shortfall)
        drawn = users * n_items + np.searchsorted(cumulative, rng.random(users.size), "right")
        del users
        drawn.sort()
        pairs = np.concatenate((pairs, drawn))
        del drawn
        # Two sorted runs: the stable sort (timsort) merges them in linear time.
        # np.unique would be far slower here (it hashes in NumPy >= 2.3).
        pairs.sort(kind="stable")
        pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
        shortfall = activity - np.bincount(pairs // n_items, minlength=n_users)
        if not shortfall.any():
            break

    item_of_rank = rng.permutation(n_items) + 1
    return pd.DataFrame(
        {
            "user": pairs // n_items + 1,
            "item": item_of_rank[pairs % n_items],
            "rating": rng.choice(HALF_STAR_RATINGS, size=pairs.size, p=RATING_SHARES),
        }
    )


def _user_activity(rng: np.random.Generator, n_rows: int, n_users: int, n_items: int) -> np.ndarray:
    """Log-normal item counts per user with mean ``n_rows / n_users``."""
    mean = n_rows / n_users
    floor = min(MIN_USER_ACTIVITY, max(1, int(mean) // 2))
    ceiling = max(floor, n_items // 4)
    spread = rng.lognormal(0.0, USER_ACTIVITY_SIGMA, n_users)
    activity = floor + spread * (mean - floor) / spread.mean()
    return np.clip(np.rint(activity), floor, ceiling).astype(np.int64)


class _PeakRssSampler:
    """Highest resident set size seen while the block runs, sampled every few ms.

    ``ru_maxrss`` cannot isolate one step: it keeps the peak of the whole process.
    """

    def __init__(self, interval_s: float = 0.005) -> None:
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.start_bytes = 0
        self.peak_bytes = 0

    def __enter__(self) -> _PeakRssSampler:
        self.start_bytes = self.peak_bytes = _current_rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, _current_rss_bytes())

    def _sample(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.peak_bytes = max(self.peak_bytes, _current_rss_bytes())


def _current_rss_bytes() -> int:
    resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return resident_pages * resource.getpagesize()


def _max_rss_mb() -> float:
    """Peak RSS of the process so far (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _paper_settings(n_heldout_users: int) -> PreprocessingParameters:
    """The paper's ML-20M preprocessing (Liang et al. 2018), which this benchmark times."""
    return PreprocessingParameters(
        rating_threshold=3.5,
        min_user_count=5,
        min_item_count=0,
        n_heldout_users=n_heldout_users,
        target_fraction=0.2,
        seed=98765,
    )


def run_benchmark(n_rows: int, n_users: int, n_items: int, seed: int) -> dict:
    started = time.perf_counter()
    interactions = generate_interactions(n_rows, n_users, n_items, seed)
    generate_seconds = time.perf_counter() - started
    peak_rss_after_generation_mb = _max_rss_mb()
    sizes = {
        "rows": len(interactions),
        "users": int(np.count_nonzero(np.bincount(interactions["user"].to_numpy()))),
        "items": int(np.count_nonzero(np.bincount(interactions["item"].to_numpy()))),
    }
    gc.collect()

    n_heldout_users = min(PAPER_HELDOUT_USERS, n_users // 10)
    with _PeakRssSampler() as sampler:
        started = time.perf_counter()
        split = liang_split(interactions, _paper_settings(n_heldout_users))
        split_seconds = time.perf_counter() - started

    return {
        **sizes,
        "seed": seed,
        "heldout_users": n_heldout_users,
        "generate_seconds": round(generate_seconds, 2),
        "split_seconds": round(split_seconds, 2),
        "process_peak_rss_mb": round(_max_rss_mb(), 1),
        "process_peak_rss_after_generation_mb": round(peak_rss_after_generation_mb, 1),
        "split_start_rss_mb": round(sampler.start_bytes / MB, 1),
        "split_peak_rss_mb": round(sampler.peak_bytes / MB, 1),
        "split_rss_delta_mb": round((sampler.peak_bytes - sampler.start_bytes) / MB, 1),
        "split": split_summary(split),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=(
            "Time liang_split on a synthetic ML-20M-sized log; print one JSON line. "
            f"Holds out {PAPER_HELDOUT_USERS} users per split as the paper does on ML-20M, "
            "or a tenth of the users for smaller logs."
        )
    )
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--users", type=int, default=138_000)
    parser.add_argument("--items", type=int, default=27_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(json.dumps(run_benchmark(args.rows, args.users, args.items, args.seed)))


if __name__ == "__main__":
    main()
