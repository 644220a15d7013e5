"""Keep a long run's resident memory near its working set (glibc; a no-op elsewhere).

glibc raises its mmap threshold each time a large mmap'd block is freed (up to 32 MiB), so after
the first big encoding or fine-tuning batch, later large buffers come from the heap, where freed
memory stays with the process for reuse: a run over many tasks keeps the high-water mark of each.
A fixed threshold keeps large buffers mmap'd (returned to the system when freed), and after each
task the heap's free memory is trimmed and the task's encoders are dropped. None of this changes
a computed value: only where the same bytes live.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 1 << 20
"""Buffers from 1 MiB up are mmap'd: batches of embeddings and activations, never small objects."""


@lru_cache(maxsize=1)
def _glibc():
    name = ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name)
        lib.mallopt, lib.malloc_trim  # noqa: B018 (glibc only: musl and macOS lack malloc_trim)
    except (OSError, AttributeError, TypeError):
        return None
    return lib


def fix_mmap_threshold() -> bool:
    """Stop glibc's threshold from growing (call once, early); False where there is no glibc."""
    lib = _glibc()
    return bool(lib and lib.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def release() -> None:
    """After a task: drop the loaded encoders (another task's are never reused) and trim the heap."""
    from benchmark.retrievers.dense import load_model

    load_model.cache_clear()
    lib = _glibc()
    if lib:
        lib.malloc_trim(0)
