"""Train/test splits in the LightGCN format, written for tests."""

import numpy as np
import pandas as pd


def write_lightgcn_split(folder, n_users=60, n_items=30, seed=0):
    """Two communities that each use their own half of the items; every user's
    last two items are the test part. Returns the number of test interactions."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    n_test = 0
    with open(folder / "train.txt", "w") as train, open(folder / "test.txt", "w") as test:
        for user in range(n_users):
            half = user % 2
            items = rng.choice(n_items // 2, size=8, replace=False) + half * (n_items // 2)
            train.write(" ".join(map(str, [user, *items[:6]])) + "\n")
            test.write(" ".join(map(str, [user, *items[6:]])) + "\n")
            n_test += 2
    return n_test


def both_parts(folder) -> pd.DataFrame:
    """The (user, item) rows of a LightGCN split folder, each with the ``part`` it is in."""
    rows = [
        (int(user), int(item), part)
        for part in ("train", "test")
        for line in (folder / f"{part}.txt").read_text().splitlines()
        for user, *items in [line.split()]
        for item in items
    ]
    return pd.DataFrame(rows, columns=["user", "item", "part"])
