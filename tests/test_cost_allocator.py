"""allocator_settings applies its settings for one block and undoes them; trim_heap is an action.

Unit tests replace glibc's functions with recorders, so the test process's malloc is never
touched; the effects on page faults and huge pages are checked in fresh Python processes.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from lightattn_ref.cost import AllocatorSettings, allocator_settings, trim_heap
from lightattn_ref.cost import allocator

VARIABLE = "THP_MEM_ALLOC_ENABLE"
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # malloc.h
SET = [(M_MMAP_THRESHOLD, 32 * 2**20), (M_TRIM_THRESHOLD, 2**31 - 1)]
DEFAULTS = [(M_MMAP_THRESHOLD, 128 * 1024), (M_TRIM_THRESHOLD, 128 * 1024)]  # mallopt(3)


@pytest.fixture
def mallopt_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Record the (parameter, value) of every mallopt call; the kernel grants huge pages."""
    calls: list[tuple[int, int]] = []

    def glibc_function(name: str, *argtypes: type):
        assert name == "mallopt"
        return lambda param, value: calls.append((param, value)) or 1

    monkeypatch.setattr(allocator, "_glibc_function", glibc_function)
    monkeypatch.setattr(allocator, "_transparent_huge_pages_mode", lambda: "madvise")
    monkeypatch.setattr(allocator, "_advised_huge_pages", lambda address: True)
    return calls


def test_settings_hold_inside_the_block_and_an_unset_variable_is_unset_after(
    monkeypatch: pytest.MonkeyPatch, mallopt_calls: list[tuple[int, int]]
) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    with allocator_settings(retain_freed=True, huge_pages=True) as applied:
        assert applied == AllocatorSettings(retain_freed=True, huge_pages=True)
        assert os.environ[VARIABLE] == "1" and mallopt_calls == SET
    assert VARIABLE not in os.environ
    assert mallopt_calls == SET + DEFAULTS  # glibc's documented defaults on exit


@pytest.mark.parametrize("previous", ["0", "1", ""])
def test_a_variable_set_before_gets_its_value_back(
    monkeypatch: pytest.MonkeyPatch, mallopt_calls: list[tuple[int, int]], previous: str
) -> None:
    monkeypatch.setenv(VARIABLE, previous)
    with allocator_settings(huge_pages=True) as applied:
        assert os.environ[VARIABLE] == "1"
    assert os.environ[VARIABLE] == previous
    assert applied == AllocatorSettings(retain_freed=False, huge_pages=True)
    assert mallopt_calls == []  # retain_freed not asked: malloc untouched


def test_an_exception_in_the_block_still_restores_everything(
    monkeypatch: pytest.MonkeyPatch, mallopt_calls: list[tuple[int, int]]
) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    with pytest.raises(RuntimeError, match="inside"):
        with allocator_settings(retain_freed=True, huge_pages=True):
            raise RuntimeError("inside")
    assert VARIABLE not in os.environ and mallopt_calls == SET + DEFAULTS


def test_nothing_asked_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, mallopt_calls: list[tuple[int, int]]
) -> None:
    monkeypatch.setenv(VARIABLE, "0")
    with allocator_settings() as applied:
        assert os.environ[VARIABLE] == "0"
    assert applied == AllocatorSettings(False, False) and mallopt_calls == []


def test_without_glibc_it_yields_all_false_and_calls_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes

    def no_call(*args, **kwargs):
        raise AssertionError("nothing may be called without glibc")

    monkeypatch.setattr(platform, "libc_ver", lambda *args, **kwargs: ("", ""))
    monkeypatch.setattr(ctypes, "CDLL", no_call)
    monkeypatch.setattr(allocator, "_request_huge_pages", no_call)
    monkeypatch.delenv(VARIABLE, raising=False)
    with allocator_settings(retain_freed=True, huge_pages=True) as applied:
        assert VARIABLE not in os.environ
    assert applied == AllocatorSettings(retain_freed=False, huge_pages=False)
    assert VARIABLE not in os.environ
    assert trim_heap() is False


def test_applied_settings_are_frozen() -> None:
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        AllocatorSettings().huge_pages = True  # type: ignore[misc]


def test_huge_pages_are_false_where_the_kernel_reports_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_open = builtins.open

    def no_proc_or_sys(path, *args, **kwargs):
        if str(path).startswith(("/proc/", "/sys/")):
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_proc_or_sys)
    monkeypatch.setattr(allocator, "_glibc_function", lambda name, *argtypes: lambda *args: 1)
    monkeypatch.delenv(VARIABLE, raising=False)
    assert allocator._transparent_huge_pages_mode() == ""
    with allocator_settings(huge_pages=True) as applied:
        pass
    assert applied.huge_pages is False and VARIABLE not in os.environ


# ------------------------------------------------------------------- in fresh processes

GLIBC = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
LINUX = pytest.mark.skipif(sys.platform != "linux", reason="transparent huge pages are Linux's")


def _printed_by(script: str) -> list[str]:
    """The words ``script`` prints when run in a fresh Python process, with a fresh malloc.

    The process starts without ``THP_MEM_ALLOC_ENABLE``, whatever the test run's environment.
    """
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    command = [sys.executable, "-c", script]
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout.split()


_PAGE_FAULTS = """
import resource, torch
from lightattn_ref.cost import allocator_settings, trim_heap
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        blocks = [torch.ones(4_000_000) for _ in range(3)]  # three 16 MB blocks, freed at once
        del blocks
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
with allocator_settings(retain_freed=True) as applied:
    faults()
    inside = faults()
trim_heap()
print(applied.retain_freed, inside, faults())
"""


@GLIBC
def test_retained_memory_ends_page_faults_inside_the_block_only() -> None:
    applied, inside, after = _printed_by(_PAGE_FAULTS)
    # by default glibc returns such blocks to the kernel and faults their ~3,900 pages of 4 KiB
    # in again on every allocation; inside the block the rounds reuse the retained heap
    assert applied == "True" and int(inside) < 100
    # after the block (and a trim) the 128 KiB threshold maps 16 MB blocks afresh again: at least
    # a few of the 15 are faulted in (how many depends on the heap's layout)
    assert int(after) > 3 * 3_000


_TRIM = """
import torch
from lightattn_ref.cost import allocator_settings, trim_heap
def resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6
with allocator_settings(retain_freed=True):
    blocks = [torch.ones(4_000_000) for _ in range(4)]  # four 16 MB blocks on the heap, then freed
    del blocks
    kept = resident_mb()
    trimmed = trim_heap()
    print(trimmed, kept - resident_mb())
"""


@GLIBC
def test_trim_heap_returns_the_freed_heap_to_the_kernel() -> None:
    trimmed, released_mb = _printed_by(_TRIM)
    # retained, the 64 MB stay resident after the tensors are freed; the trim gives them back,
    # so the next timing starts from a heap in the same state whatever ran before
    assert trimmed == "True" and float(released_mb) > 48


_HUGE_PAGES = """
import os, torch
from lightattn_ref.cost import allocator_settings
def huge_share():
    with open("/proc/self/smaps_rollup") as f:
        before = next(int(line.split()[1]) for line in f if line.startswith("AnonHugePages:"))
    x = torch.ones(8, 256, 56, 56)  # 25.7 MB, as x at ResNet-50's first stage
    with open("/proc/self/smaps_rollup") as f:
        after = next(int(line.split()[1]) for line in f if line.startswith("AnonHugePages:"))
    return x, (after - before) * 1024 / x.nbytes
with allocator_settings(huge_pages=True) as applied:
    inside, share = huge_share()
later, share_after = huge_share()
print(applied.huge_pages, share, share_after, os.environ.get("THP_MEM_ALLOC_ENABLE"))
"""

# PyTorch reads THP_MEM_ALLOC_ENABLE at its first allocation, so asking after one is too late
_HUGE_PAGES_TOO_LATE = _HUGE_PAGES.replace(
    "with allocator_settings", "torch.ones(1)\nwith allocator_settings"
)


@GLIBC
@LINUX
def test_huge_pages_back_large_tensors_and_stay_for_the_process() -> None:
    asked, share, share_after, variable = _printed_by(_HUGE_PAGES)
    assert variable == "None"  # the variable is unset again after the block
    if allocator._transparent_huge_pages_mode() in ("always", "madvise"):
        # most of x lies in 2 MiB pages (not its unaligned ends, nor memory the heap had faulted before);
        # PyTorch read the variable once, so tensors made after the block still get them (documented)
        assert asked == "True" and float(share) > 0.5 and float(share_after) > 0.5
    else:
        assert asked == "False" and float(share) == 0.0


@GLIBC
@LINUX
def test_huge_pages_say_so_when_they_come_too_late() -> None:
    asked, share, _, variable = _printed_by(_HUGE_PAGES_TOO_LATE)
    assert variable == "None"
    if allocator._transparent_huge_pages_mode() == "always":  # huge pages without being asked
        assert asked == "True" and float(share) > 0.5
    else:
        assert asked == "False" and float(share) < 0.2
