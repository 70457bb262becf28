"""A small, deterministic training loop, and honest comparisons over several seeds.

One loop, no callbacks: shuffle with a seeded generator, cross-entropy, SGD (momentum 0.9) or
Adam, a tqdm bar. The same model weights, data and seed give the same history, so a chapter's
printed numbers reproduce. One run is one sample; compare modules with :func:`multi_seed`.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm  # text bar: tqdm.auto warns on stderr where ipywidgets is missing

__all__ = ["History", "SeedStats", "evaluate", "multi_seed", "reestimate_batchnorm", "train"]


@dataclass
class History:
    """Per-epoch numbers of one :func:`train` run (one entry per epoch).

    ``train_acc`` is measured on the fly, in train mode, on the batches as they were seen (the
    usual cheap estimate); ``test_acc`` is a separate pass in eval mode, and stays empty
    without test data. ``seconds`` is wall time and is left out of ``==``, so two runs with the
    same seed compare equal.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list, compare=False)


def _device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset, batch_size: int = 256) -> float:
    """Top-1 accuracy in [0, 1] of ``model`` on ``data`` (pairs of image (C, H, W) and label).

    Runs in eval mode (BatchNorm uses its running statistics) and restores the mode after.
    """
    was_training = model.training
    model.eval()
    device = _device(model)
    correct = total = 0
    try:
        for x, y in DataLoader(data, batch_size=batch_size):
            x, y = x.to(device), y.to(device)
            correct += int((model(x).argmax(1) == y).sum())
            total += len(y)
    finally:
        model.train(was_training)
    return correct / total


@torch.no_grad()
def reestimate_batchnorm(model: nn.Module, data: Dataset, batch_size: int = 256) -> None:
    """Recompute every BatchNorm's running mean and variance with the final weights.

    After a short training run the running statistics lag behind the weights (momentum 0.1, or
    0.01 in CBAM's spatial gate), which costs test accuracy for reasons unrelated to the model.
    One pass over ``data`` in train mode with ``momentum=None`` (a plain average over batches)
    fixes that. Leaves the model in eval mode with each BatchNorm's momentum restored.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    device = _device(model)
    for x, _ in DataLoader(data, batch_size=batch_size):
        model(x.to(device))
    for bn, momentum in zip(norms, momenta):
        bn.momentum = momentum
    model.eval()


def _optimizer(name: str, params: Iterable[nn.Parameter], lr: float, weight_decay: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer={name!r}; choose 'sgd' or 'adam'")


def train(
    model: nn.Module,
    train_data: Dataset,
    test_data: Dataset | None = None,
    *,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 0.05,
    seed: int = 0,
    optimizer: str = "sgd",
    weight_decay: float = 0.0,
    progress: bool = True,
) -> History:
    """Train ``model`` in place with cross-entropy and return its :class:`History`.

    Args:
        model: maps images (B, C, H, W) to logits (B, num_classes); trained on its own device.
        train_data, test_data: datasets of (image (C, H, W), label) pairs, e.g. ``TensorDataset``.
        epochs, batch_size, lr, weight_decay: the usual; the last batch may be smaller.
        seed: seeds the shuffling (a DataLoader generator) and, inside a ``fork_rng`` block,
            torch's global generator (for dropout and the like), whose state is restored on
            return, so the caller's random stream is not changed. The model's initial weights
            are the caller's: build it after ``torch.manual_seed`` for a fully reproducible run.
        optimizer: ``"sgd"`` (momentum 0.9) or ``"adam"``.
        progress: show a tqdm text bar over the batches;
            ``False`` prints nothing.

    The model is left in train mode.
    """
    device = _device(model)
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        return _train(model, train_data, test_data, device, epochs, batch_size, lr, seed, optimizer,
                      weight_decay, progress)


def _train(
    model: nn.Module,
    train_data: Dataset,
    test_data: Dataset | None,
    device: torch.device,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    optimizer: str,
    weight_decay: float,
    progress: bool,
) -> History:
    loader = DataLoader(train_data, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    opt = _optimizer(optimizer, model.parameters(), lr, weight_decay)
    history = History()
    with tqdm(total=epochs * len(loader), disable=not progress, desc="train", unit="batch") as bar:
        for epoch in range(epochs):
            start = time.perf_counter()
            model.train()
            loss_sum = correct = seen = 0.0
            for x, y in loader:
                x, y = x.to(device), y.to(device)
                logits = model(x)
                loss = F.cross_entropy(logits, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                loss_sum += loss.item() * len(y)  # weight by batch size: the last batch is smaller
                correct += int((logits.argmax(1) == y).sum())
                seen += len(y)
                bar.update(1)
            history.train_loss.append(loss_sum / seen)
            history.train_acc.append(correct / seen)
            if test_data is not None:
                history.test_acc.append(evaluate(model, test_data))
            history.seconds.append(time.perf_counter() - start)
            shown = {"epoch": epoch + 1, "loss": f"{history.train_loss[-1]:.3f}"}
            if history.test_acc:
                shown["test_acc"] = f"{history.test_acc[-1]:.3f}"
            bar.set_postfix(shown)
    return history


@dataclass(frozen=True)
class SeedStats:
    """Mean and spread of one number (e.g. test accuracy) over several seeds.

    ``std`` is the sample standard deviation (n - 1 in the denominator); ``nan`` for one seed,
    which gives no estimate of the spread.
    """

    values: tuple[float, ...]
    seeds: tuple[int, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else math.nan

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    def __str__(self) -> str:
        return f"{self.mean:.4f} ± {self.std:.4f} (min {self.min:.4f}, max {self.max:.4f}, n={len(self.values)})"


def multi_seed(fn: Callable[[int], float], seeds: Iterable[int]) -> SeedStats:
    """Run ``fn(seed)`` for every seed and summarise the numbers it returns.

    ``fn`` should build its model *inside*, after seeding, so each seed is a whole independent
    run (initial weights and data order). Differences between two modules smaller than their
    spread here are noise, not a finding.

    Example::

        def run(seed):
            torch.manual_seed(seed)
            model = make_model()
            return train(model, tr, te, seed=seed, progress=False).test_acc[-1]

        print(multi_seed(run, range(3)))   # mean ± std (min ..., max ..., n=3)
    """
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("multi_seed needs at least one seed")
    return SeedStats(values=tuple(float(fn(s)) for s in seeds), seeds=seeds)
