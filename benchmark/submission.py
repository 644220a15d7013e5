"""Submission manifests (submissions/<name>/submission.toml), parsed strictly."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from benchmark.storage import sha256_file

MANIFEST = "submission.toml"


class SubmissionError(ValueError):
    """A manifest that cannot be read; the message names the file and the field."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SubmissionInfo(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)
    title: str = Field(min_length=1, max_length=200)
    authors: list[str] = Field(min_length=1)
    paper: str | None = None


class SubmissionMetadata(_Strict):
    """What a reader needs to weigh a row (as MTEB asks of models); shown on the site, never part of
    a system's configuration. `trained_on_test = false` is a declaration the board requires before
    it ranks a submission: nothing in the results can prove that a model never saw test queries."""

    llm: str | None = Field(None, min_length=1, max_length=100)
    """The LLM an augmenter calls (model name)."""
    llm_parameters: int | None = Field(None, ge=1)
    retriever_parameters: int | None = Field(None, ge=0)
    """0 for a retriever without learned weights (BM25)."""
    weights: Literal["open", "api"] | None = None
    """Open weights (anyone can rerun it) or an API model."""
    trained_on_test: bool | None = Field(None, strict=True)  # a declaration: true or false, not "no"

    @model_validator(mode="after")
    def _llm_named(self) -> "SubmissionMetadata":
        if self.llm_parameters is not None and self.llm is None:
            raise ValueError("llm_parameters needs llm (the model's name)")
        return self

    @property
    def declared_clean(self) -> bool:
        return self.trained_on_test is False


class ComponentSpec(_Strict):
    use: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)


class Manifest(_Strict):
    submission: SubmissionInfo
    augmenter: ComponentSpec
    retriever: ComponentSpec
    metadata: SubmissionMetadata = Field(default_factory=SubmissionMetadata)


def _fields_at(loc: tuple) -> list[str]:
    """The field names the manifest schema allows where `loc` points."""
    model: type[BaseModel] = Manifest
    for part in loc[:-1]:
        annotation = model.model_fields[str(part)].annotation if str(part) in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _explain(err: dict) -> str:
    """One pydantic error as 'field: what was wrong (what was expected)', with a did-you-mean."""
    loc = tuple(err["loc"])
    where = ".".join(map(str, loc)) or "(top level)"
    if err["type"] == "extra_forbidden":
        allowed = _fields_at(loc)
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f"; did you mean {'.'.join(map(str, loc[:-1] + (close[0],)))!r}?" if close else ""
        return f"{where}: unknown field{hint} (allowed here: {', '.join(allowed)})"
    if err["type"] == "missing":
        return f"{where}: required field is missing"
    return f"{where}: {err['msg']} (got {err.get('input')!r})"


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
        problems = [f"{path}: {_explain(err)}" for err in e.errors()]
        raise SubmissionError("; ".join(problems), problems) from None
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
