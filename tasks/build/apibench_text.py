"""How APIBench's records become text: the instruction a query keeps, a doc's text, and the
model names whose mention in a query would give its gold API away."""

from __future__ import annotations

import re

INSTRUCTION = re.compile(r"\s*###\s*Instruction:(.*?)(?=###|\Z)", re.S)  # up to ###Input/###Output
DICT_INSTRUCTION = re.compile(r"\s*\{'Instruction':(.*?), 'Output':", re.S)  # torchhub_train's layout
QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")
EMPTY = {"", "n/a", "na", "none", "not specified", "not provided", "unknown"}


def instruction(code: str) -> str:
    """The instruction alone: everything after it in `code` contains the answer."""
    match = INSTRUCTION.match(code) or DICT_INSTRUCTION.match(code)
    if not match:
        raise SystemExit(f"no instruction in {code[:80]!r}")
    text = match.group(1).strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":  # torchhub_train quotes some
        text = text[1:-1].strip()
    return text


def squash(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def as_text(value) -> str:
    if isinstance(value, list):
        return ", ".join(as_text(v) for v in value)
    return "" if value is None else str(value).strip()


def dataset_names(performance) -> list[str]:
    """Names of the datasets an API doc reports results on (scores left out)."""
    names = []
    for perf in performance if isinstance(performance, list) else [performance]:
        datasets = perf.get("dataset") if isinstance(perf, dict) else None
        for item in datasets if isinstance(datasets, list) else [datasets]:
            name = item.get("name") if isinstance(item, dict) else item
            if isinstance(name, str) and name.strip().casefold() not in EMPTY and name.strip() not in names:
                names.append(name.strip())
    return names


def doc_text(api: dict) -> str:
    """Most informative fields first (MiniLM reads 256 word pieces); no example code or scores."""
    lines = [f"{as_text(api['domain'])}: {as_text(api['functionality'])}", as_text(api["description"]),
             f"API call: {as_text(api['api_call'])}", f"Framework: {as_text(api['framework'])}"]
    datasets = dataset_names(api["performance"])
    if datasets:
        lines.append("Datasets: " + "; ".join(datasets))
    return "\n".join(line for line in lines if line.strip())


def model_names(ids: list[str]) -> set[str]:
    """The ids, with their last path component unless that is a plain lowercase word
    ('duncan93/video' -> 'video' is not checked); names under 4 letters or digits are not checked."""
    names = set(ids) | {s.rsplit("/", 1)[-1] for s in ids if not re.fullmatch(r"[a-z]+", s.rsplit("/", 1)[-1])}
    return {n for n in names if len(squash(n)) >= 4}


def hf_model_names(api: dict, call: str) -> set[str]:
    """api_name and the model ids quoted in the call (not pipeline task names such as 'summarization')."""
    return model_names([api["api_name"]] + [s for s in QUOTED.findall(call) if "/" in s or s == api["api_name"]])


def torch_model(call: str) -> str | None:
    match = re.search(r"model='([^']+)'", call)
    return match.group(1) if match else None


def torch_model_names(api: dict, call: str) -> set[str]:
    """api_name and the call's hub repository and model arguments."""
    repo = re.search(r"repo_or_dir='([^']+)'", call)
    return model_names([api["api_name"]] + [m for m in [repo and repo.group(1), torch_model(call)] if m])


def mentions(text: str, names: set[str]) -> list[str]:
    """Names that occur in text as a run of 1-4 whole words, case and punctuation folded
    ('Densenet-201' and 'DenseNet 201' both mention 'densenet201')."""
    words = [w for w in (squash(w) for w in text.split()) if w]
    grams = {"".join(words[i:i + n]) for n in range(1, 5) for i in range(len(words) - n + 1)}
    return sorted(n for n in names if squash(n) in grams)
