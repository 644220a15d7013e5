"""Submission manifests (submissions/<name>/submission.toml), parsed strictly."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from benchmark.storage import sha256_file

MANIFEST = "submission.toml"


class SubmissionError(ValueError):
    """A manifest that cannot be read; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SubmissionInfo(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)
    title: str = Field(min_length=1, max_length=200)
    authors: list[str] = Field(min_length=1)
    paper: str | None = None


class ComponentSpec(_Strict):
    use: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)


class Manifest(_Strict):
    submission: SubmissionInfo
    augmenter: ComponentSpec
    retriever: ComponentSpec


@dataclass(frozen=True)
class Submission:
    name: str
    path: Path
    manifest: Manifest
    manifest_sha256: str


def load_submission(folder: Path) -> Submission:
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise SubmissionError(f"{path}: no such file (a submission folder holds a {MANIFEST})")
    try:
        manifest = Manifest.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as e:
        raise SubmissionError(f"{path}: not valid TOML ({e})") from None
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise SubmissionError(f"{path}: {problems}") from None
    if manifest.submission.name != folder.name:
        raise SubmissionError(f"{path}: submission.name {manifest.submission.name!r} must equal the folder name {folder.name!r}")
    return Submission(manifest.submission.name, folder, manifest, sha256_file(path))


def submissions_root() -> Path:
    return Path(__file__).resolve().parents[1] / "submissions"


def load_submissions(root: Path | None = None, names: list[str] | None = None) -> list[Submission]:
    """The named submissions (all, in name order, when none are named)."""
    root = Path(root or submissions_root())
    available = sorted(p.name for p in root.iterdir() if (p / MANIFEST).is_file()) if root.is_dir() else []
    for name in names or []:
        if name not in available:
            raise SubmissionError(f"unknown submission {name!r} in {root.name}/; available: {', '.join(available)}")
    return [load_submission(root / name) for name in (names or available)]
