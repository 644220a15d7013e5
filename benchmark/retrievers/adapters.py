"""LoRA adapters (peft) for the fine-tuning recipe: a small safetensors file instead of a whole model.

The adapter wraps the chosen linear layers of the encoder; only its weights train. Saved as the
adapter's state dict alone (safetensors, never pickled) with its configuration beside it; loaded
by applying it to the base weights and merging, so that search runs on a plain encoder.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

ADAPTER_FILE = "adapter.safetensors"
CONFIG_FILE = "adapter.json"


@dataclass(frozen=True)
class LoraSpec:
    """Part of a recipe: which layers carry an adapter, and its size."""

    rank: int = 16
    alpha: int = 32
    """Scaling: the update is (alpha / rank) * B @ A."""
    targets: tuple[str, ...] = ("query", "key", "value", "dense")
    """Names of BERT's linear layers (attention projections; `dense` is every output and
    feed-forward projection, and the pooler, which mean pooling never uses: its adapter gets no
    gradient and stays a no-op)."""

    def as_dict(self) -> dict:
        return {**asdict(self), "targets": list(self.targets)}

    def config(self):
        from peft import LoraConfig

        return LoraConfig(r=self.rank, lora_alpha=self.alpha, target_modules=list(self.targets),
                          lora_dropout=0.0, bias="none")


def apply_lora(model: "SentenceTransformer", spec: LoraSpec) -> None:
    """Freeze the encoder and give it fresh adapter weights (seeded by the caller's torch seed)."""
    from peft import get_peft_model

    model[0].model = get_peft_model(model[0].model, spec.config())


def save_adapter(model: "SentenceTransformer", spec: LoraSpec, out_dir: Path) -> None:
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous() for k, v in get_peft_model_state_dict(model[0].model).items()}
    save_file(state, str(Path(out_dir) / ADAPTER_FILE), metadata={"format": "pt"})
    (Path(out_dir) / CONFIG_FILE).write_text(json.dumps(spec.as_dict(), sort_keys=True) + "\n", encoding="utf-8")


def read_spec(folder: Path) -> LoraSpec:
    data = json.loads((Path(folder) / CONFIG_FILE).read_text(encoding="utf-8"))
    return LoraSpec(int(data["rank"]), int(data["alpha"]), tuple(data["targets"]))


def merge_adapter(model: "SentenceTransformer", folder: Path) -> None:
    """Apply the adapter in `folder` to the base `model` in place, merged into its weights."""
    from peft import get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file

    wrapped = get_peft_model(model[0].model, read_spec(folder).config())
    result = set_peft_model_state_dict(wrapped, load_file(str(Path(folder) / ADAPTER_FILE)))
    if getattr(result, "unexpected_keys", None):
        raise ValueError(f"{folder / ADAPTER_FILE}: unexpected weights {result.unexpected_keys[:3]}")
    model[0].model = wrapped.merge_and_unload()
