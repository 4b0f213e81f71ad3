"""Building and caching the native ops (a learned sorter loads its weights once)."""
from functools import lru_cache

import numpy as np

from ._native import Op


@lru_cache(maxsize=128)
def op(kind, *args):
    """The native op ``kind`` built from ``args`` (hashable), cached."""
    return getattr(Op, kind)(*args)


def lists_arg(lists, m):
    """Group ids as a list of non-negative ints, one per item, or None."""
    if lists is None:
        return None
    ids = np.asarray(lists)
    if ids.ndim != 1 or ids.shape[0] != m:
        raise ValueError(f"lists must give one group id per item: {m} items, got shape {ids.shape}")
    if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0 or ids.max() >= 2**32):
        raise ValueError("group ids must be integers in [0, 2**32)")
    return [int(v) for v in ids]
