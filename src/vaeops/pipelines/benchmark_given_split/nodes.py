from typing import Any

from vaeops.integrations.config import merged
from vaeops.recommenders.benchmark import given_split_summary, read_given_split

# Entries of params:benchmark_given_split that describe the data and its protocol
# rather than override params:benchmark.
_OWN_KEYS = ("dataset", "validation", "refit", "published")


def split_as_given(given: dict) -> dict[str, Any]:
    split = read_given_split(given["dataset"])
    return {
        "train": split.train,
        "test_target": split.test_target,
        "summary": given_split_summary(given["dataset"], split),
    }


def given_split_settings(benchmark: dict, given: dict) -> dict:
    """params:benchmark with the given-split entries merged over it, key by key, and the
    published rows of this dataset alone."""
    overrides = {key: value for key, value in given.items() if key not in _OWN_KEYS}
    published = (given.get("published") or {}).get(given["dataset"]["name"])
    return {**merged(benchmark, overrides), "published": published}
