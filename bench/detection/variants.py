"""Cheap or wrong models of the reference model's shape, built in memory from its weights.

Each variant is a deep copy of the reference model with one change. Only decoder-layer
Linear weights are touched (the embedding is tied to the output head and stays exact), so
a variant costs an executor less (fewer layers, fewer bits) or is simply another model.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

GROUP = 64


def _linears(model: Any) -> list[nn.Linear]:
    return [m for m in model.model.layers.modules() if isinstance(m, nn.Linear)]


def drop_last_layers(model: Any, count: int) -> Any:
    variant = copy.deepcopy(model)
    kept = list(variant.model.layers)[:-count]
    variant.model.layers = nn.ModuleList(kept)
    variant.config.num_hidden_layers = len(kept)
    layer_types = getattr(variant.config, "layer_types", None)
    if isinstance(layer_types, list):
        variant.config.layer_types = layer_types[: len(kept)]
    return variant


def quantize(model: Any, bits: int, group: int = GROUP) -> Any:
    """Symmetric round-to-nearest per group of `group` weights, dequantized to float32:
    the numbers a b-bit executor computes with."""
    variant = copy.deepcopy(model)
    levels = (1 << (bits - 1)) - 1
    with torch.no_grad():
        for linear in _linears(variant):
            w = linear.weight.data.reshape(-1, group)
            scale = w.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / levels
            q = torch.round(w / scale).clamp(-levels, levels) * scale
            linear.weight.data.copy_(q.reshape(linear.weight.shape))
    return variant


def perturb(model: Any, relative: float = 1e-3, seed: int = 0) -> Any:
    """Another model of the same shape: Gaussian noise at `relative` times each weight's std."""
    variant = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for linear in _linears(variant):
            w = linear.weight.data
            noise = torch.randn(w.shape, generator=generator, dtype=w.dtype)
            w.add_(noise * (relative * float(w.std())))
    return variant


def swap_layers(model: Any, first: int, second: int) -> Any:
    """Two decoder layers' weights exchanged (modules stay put: their cache slots are fixed)."""
    variant = copy.deepcopy(model)
    layers = variant.model.layers
    saved = {k: v.clone() for k, v in layers[first].state_dict().items()}
    layers[first].load_state_dict(layers[second].state_dict())
    layers[second].load_state_dict(saved)
    return variant


def _last_two(model: Any) -> Any:
    count = len(model.model.layers)
    return swap_layers(model, count // 2, count // 2 + 1)


BUILDERS: dict[str, Callable[[Any], Any]] = {
    "drop-1": lambda m: drop_last_layers(m, 1),
    "drop-2": lambda m: drop_last_layers(m, 2),
    "drop-4": lambda m: drop_last_layers(m, 4),
    "int8": lambda m: quantize(m, 8),
    "int4": lambda m: quantize(m, 4),
    "int3": lambda m: quantize(m, 3),
    "int2": lambda m: quantize(m, 2),
    "noise-0.1%": lambda m: perturb(m, 1e-3),
    "swap-layers": _last_two,
}


class VariantPool:
    """Builds variants on demand and keeps only the latest: each is a full weight copy."""

    def __init__(self, reference: Any) -> None:
        self._reference = reference
        self._name: str | None = None
        self._model: Any = None

    def get(self, name: str) -> Any:
        if name != self._name:
            self._model = None  # free the previous copy before building the next
            self._model = BUILDERS[name](self._reference).eval()
            self._name = name
        return self._model
