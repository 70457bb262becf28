"""DistributedDataParallel needs no change to the modules: two gloo ranks on CPU give the mean gradient.

A data-parallel step splits the batch into one shard per rank and averages the ranks' gradients.
So after ``backward`` every rank must hold the mean of the gradients that one plain process
computes on the shards one by one. BatchNorm in training mode (the backbone's, and the one inside
CBAM's spatial gate, ULSAM and Coordinate Attention) normalises each rank's shard with that shard's
own statistics, so the single-process reference runs shard by shard too: the mean of the per-shard
gradients is exactly what DDP computes, with no SyncBatchNorm.

One spawn serves every module: each of the two workers loops over ``ATTENTION_NAMES``, computes the
reference itself (no collective involved) and then the DDP step, and writes a small JSON report
that the test reads back.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import Tensor, nn

from lightattn_ref import ATTENTION_NAMES
from lightattn_ref.models import attention_modules, resnet18

WORLD_SIZE = 2
SHARD = 4  # images per rank
# ResNet-18 maps 64 x 64 to 2 x 2 in its last stage: on a 1 x 1 map ULSAM's softmax over H x W is
# exactly 1, its gate constant and its gradients zero, and the comparison there would be vacuous
SIZE = 64
NUM_CLASSES = 10
ATOL, RTOL = 1e-5, 1e-4
# SA splits C into 2G halves: ResNet-18's first stage has C = 64, so the default G = 64 does not divide it
OPTIONS: dict[str, dict[str, Any]] = {"sa": {"groups": 32}}

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="torch.distributed with the gloo backend is not available in this torch build",
)


def backbone(name: str) -> nn.Module:
    """ResNet-18 with ``name`` in every block, the same weights in every process.

    The attention parameters are moved off their initial values: CBAM's spatial BatchNorm starts
    at weight 0, which makes its gate constant and the gradients of its convolution exactly zero,
    so a comparison there would hold trivially.
    """
    torch.manual_seed(0)  # the backbone's init draws from the global generator; each worker owns its own
    model = resnet18(name, num_classes=NUM_CLASSES, **OPTIONS.get(name, {}))
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in attention_modules(model).values():
            for p in module.parameters():
                p.add_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return model.train()


def batch() -> tuple[Tensor, Tensor]:
    """The full batch, (WORLD_SIZE * SHARD, 3, SIZE, SIZE) images and their labels; rank r takes shard r."""
    gen = torch.Generator().manual_seed(2)
    images = torch.randn(WORLD_SIZE * SHARD, 3, SIZE, SIZE, generator=gen)
    labels = torch.randint(0, NUM_CLASSES, (WORLD_SIZE * SHARD,), generator=gen)
    return images, labels


def shard(tensor: Tensor, rank: int) -> Tensor:
    return tensor[rank * SHARD : (rank + 1) * SHARD]


def gradients(model: nn.Module) -> dict[str, Tensor]:
    """Every parameter's gradient by name; a parameter without one is an error, not a skip."""
    missing = [k for k, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without a gradient: {missing}"
    return {k: p.grad.detach().clone() for k, p in model.named_parameters()}


def mean_of_shard_gradients(model: nn.Module, images: Tensor, labels: Tensor) -> dict[str, Tensor]:
    """The reference: one process, the shards one after the other, the mean of their gradients."""
    per_shard = []
    for rank in range(WORLD_SIZE):
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(shard(images, rank)), shard(labels, rank)).backward()
        per_shard.append(gradients(model))
    return {k: torch.stack([g[k] for g in per_shard]).mean(0) for k in per_shard[0]}


def compare(actual: dict[str, Tensor], expected: dict[str, Tensor]) -> dict[str, Any]:
    """What the test asserts on: parameters compared, mismatches (name, max |diff|), all-zero gradients."""
    mismatches = [
        (k, float((actual[k] - expected[k]).abs().max()))
        for k in expected
        if not torch.allclose(actual[k], expected[k], rtol=RTOL, atol=ATOL)
    ]
    zero = [k for k, g in expected.items() if not g.any()]
    return {"compared": len(expected), "mismatches": mismatches, "all_zero": zero}


def worker(rank: int, init_file: str, out_dir: str) -> None:
    """One rank: for every module, the reference on a copy, then one DDP step on this rank's shard."""
    torch.set_num_threads(1)  # two ranks on two cores
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE,
        timeout=timedelta(seconds=120),
    )
    try:
        images, labels = batch()
        report: dict[str, Any] = {}
        for name in ATTENTION_NAMES:
            model = backbone(name)
            expected = mean_of_shard_gradients(copy.deepcopy(model), images, labels)
            ddp = nn.parallel.DistributedDataParallel(model)
            F.cross_entropy(ddp(shard(images, rank)), shard(labels, rank)).backward()
            report[name] = compare(gradients(ddp.module), expected)
            report[name]["parameters"] = sum(1 for _ in model.parameters())
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(report))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Run both ranks once for all modules; one report per rank."""
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(worker, args=(str(out / "init"), str(out)), nprocs=WORLD_SIZE, join=True)
    return [json.loads((out / f"rank{rank}.json").read_text()) for rank in range(WORLD_SIZE)]


@pytest.mark.parametrize("name", ATTENTION_NAMES)
@pytest.mark.parametrize("rank", range(WORLD_SIZE))
def test_ddp_gradients_are_the_mean_of_shard_gradients(
    reports: list[dict[str, Any]], name: str, rank: int
) -> None:
    result = reports[rank][name]
    assert result["compared"] == result["parameters"] > 0
    assert result["mismatches"] == [], (
        f"{name}, rank {rank}: DDP gradients differ from the mean of per-shard gradients "
        f"(atol={ATOL}, rtol={RTOL}) for (parameter, max |diff|) {result['mismatches']}"
    )
    assert result["all_zero"] == [], f"{name}: all-zero reference gradients make the check vacuous"
