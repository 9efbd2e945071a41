"""The splits models learn from and are scored on, one protocol a module.

``liang``: Liang et al.'s strong generalisation, users held out for validation and test;
``given``: a train/test split that ships with the data (LightGCN's); ``carved``:
validation users carved from a given split's train part; ``common``: the checks and
matrices they share.
"""

from vaeops.data.splits.carved import CarvedValidation, carve_validation
from vaeops.data.splits.given import GivenSplit, given_split, given_split_summary, read_given_split
from vaeops.data.splits.liang import LiangSplit, held_out_user_ids, liang_split, split_summary

__all__ = [
    "CarvedValidation",
    "GivenSplit",
    "LiangSplit",
    "carve_validation",
    "given_split",
    "given_split_summary",
    "held_out_user_ids",
    "liang_split",
    "read_given_split",
    "split_summary",
]
