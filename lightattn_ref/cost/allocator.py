"""The memory allocator's state during a measurement: scoped settings and an explicit heap trim.

An eager module allocates fresh outputs on every call. Where glibc maps a large block afresh
with ``mmap`` and returns it to the kernel when it is freed, every call pays one page fault per
4 KiB page it writes, and its time depends on what ran before. Two settings remove most of that
cost, and ``allocator_settings`` applies them for the duration of a ``with`` block only:

* ``retain_freed``: glibc's ``mallopt`` serves blocks up to 32 MiB from the heap and keeps the
  freed heap instead of trimming it, as jemalloc and tcmalloc do by default.
* ``huge_pages``: ``THP_MEM_ALLOC_ENABLE=1`` asks PyTorch's CPU allocator to advise the kernel
  to back blocks of 2 MiB or more with 2 MiB (transparent huge) pages.

``trim_heap`` is an action, not a setting: it gives the free heap back to the kernel now, so
that a measurement starts from the same heap whatever ran before it.
Sources: glibc's mallopt(3) manual page and the GNU C Library manual, "Malloc Tunable
Parameters"; PyTorch's ``c10/core/alloc_cpu.cpp`` (``is_thp_alloc_enabled``) and its CPU
performance tuning guide.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
# mallopt(3): the largest mmap threshold on 64-bit systems, DEFAULT_MMAP_THRESHOLD_MAX =
# 4 * 1024 * 1024 * sizeof(long); and the documented default of both thresholds, 128 * 1024
_MAX_MMAP_THRESHOLD = 32 * 1024 * 1024
_DEFAULT_THRESHOLD = 128 * 1024
_KEEP_FREED_HEAP = 2**31 - 1  # a trim threshold no heap reaches: freed heap memory stays
_HUGE_PAGES_VARIABLE = "THP_MEM_ALLOC_ENABLE"
_HUGE_PAGE_PROBE = 1 << 20  # float32 elements: 4 MiB, large enough for PyTorch to advise huge pages


@dataclass(frozen=True)
class AllocatorSettings:
    """What ``allocator_settings`` put into effect; all False where it changed nothing.

    Attributes:
        retain_freed: glibc accepted both ``mallopt`` calls (blocks up to 32 MiB come from the
            heap, and the freed heap is kept).
        huge_pages: a fresh 4 MiB tensor lies in memory advised for huge pages (or the kernel
            gives them to every mapping, mode ``always``).
    """

    retain_freed: bool = False
    huge_pages: bool = False


def _glibc_function(name: str, *argtypes: type) -> Callable[..., int] | None:
    """glibc's C function ``name`` (int result, arguments of ``argtypes``); None without glibc."""
    if platform.libc_ver()[0] != "glibc":
        return None
    function = getattr(ctypes.CDLL(None), name)
    function.argtypes, function.restype = list(argtypes), ctypes.c_int
    return function


@contextlib.contextmanager
def allocator_settings(
    *, retain_freed: bool = False, huge_pages: bool = False
) -> Iterator[AllocatorSettings]:
    """Apply allocator settings for a ``with`` block; yield what took effect; undo them on exit.

    Example::

        with allocator_settings(retain_freed=True, huge_pages=True) as applied:
            result = measure_latency(module, shape)
        print(applied.retain_freed, applied.huge_pages)

    Args:
        retain_freed: ``mallopt(M_MMAP_THRESHOLD, 32 MiB)`` and ``mallopt(M_TRIM_THRESHOLD,
            2^31 - 1)``: blocks up to 32 MiB are served from the heap and freed heap memory is
            kept, so an eager module's fresh outputs reuse memory that is already faulted in.
        huge_pages: set ``THP_MEM_ALLOC_ENABLE=1``, so that PyTorch advises huge pages for its
            allocations of 2 MiB or more, and check with a 4 MiB probe tensor whether it does.

    Yields:
        An ``AllocatorSettings`` of what took effect. Without glibc (macOS, Windows, musl) it
        is all False and nothing is changed or called.

    On exit, also after an exception: if ``retain_freed`` was asked, both thresholds are set to
    glibc's documented defaults, 128 KiB each (mallopt(3); glibc has no call that reads the
    current values, so "the defaults" is the best restore there is); if ``huge_pages`` was
    asked, ``THP_MEM_ALLOC_ENABLE`` gets its previous value back, or is removed if it was unset.

    Two caveats, both from the sources: the process does not return exactly to its first state.

    * glibc adjusts its mmap threshold dynamically (up to 32 MiB, with the trim threshold at
      twice it) only until ``mallopt`` sets M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, M_TOP_PAD or
      M_MMAP_MAX; after any such call the thresholds stay fixed, at 128 KiB after this block
      (mallopt(3), "M_MMAP_THRESHOLD", and the GNU C Library manual, "Malloc Tunable
      Parameters").
    * PyTorch reads ``THP_MEM_ALLOC_ENABLE`` once per process, at its first CPU allocation (a
      function-local static in ``is_thp_alloc_enabled``, ``c10/core/alloc_cpu.cpp``). So huge
      pages take effect only if the block is entered before the process's first tensor (the
      benchmark's command line does this), and once they have taken effect, restoring the
      variable does not switch them off for the rest of the process. ``applied.huge_pages``
      says which case the block met.
    """
    mallopt = _glibc_function("mallopt", ctypes.c_int, ctypes.c_int)
    if mallopt is None:
        yield AllocatorSettings()
        return
    previous = os.environ.get(_HUGE_PAGES_VARIABLE)
    try:
        retained = retain_freed and _keep_freed_memory(mallopt)
        advised = huge_pages and _request_huge_pages()
        yield AllocatorSettings(retain_freed=retained, huge_pages=advised)
    finally:
        if retain_freed:
            mallopt(_M_MMAP_THRESHOLD, _DEFAULT_THRESHOLD)
            mallopt(_M_TRIM_THRESHOLD, _DEFAULT_THRESHOLD)
        if huge_pages:
            _restore_variable(_HUGE_PAGES_VARIABLE, previous)


def _keep_freed_memory(mallopt: Callable[[int, int], int]) -> bool:
    """Fix the mmap threshold at its largest value and the trim threshold out of reach.

    A fixed mmap threshold serves blocks below it from the heap; a trim threshold above any heap
    keeps the freed heap instead of shrinking it after every call. True if glibc took both.
    """
    mmap_fixed = mallopt(_M_MMAP_THRESHOLD, _MAX_MMAP_THRESHOLD)
    return bool(mmap_fixed and mallopt(_M_TRIM_THRESHOLD, _KEEP_FREED_HEAP))


def _request_huge_pages() -> bool:
    """Set ``THP_MEM_ALLOC_ENABLE=1``; True if a fresh large tensor now gets huge pages.

    False where the kernel has no transparent huge pages (not Linux, or mode ``never``), or when
    PyTorch read the variable before this call (the process had made a tensor already).
    """
    os.environ[_HUGE_PAGES_VARIABLE] = "1"
    mode = _transparent_huge_pages_mode()
    if mode in ("", "never"):
        return False
    probe = torch.empty(_HUGE_PAGE_PROBE)
    return mode == "always" or _advised_huge_pages(probe.data_ptr())


def _restore_variable(name: str, previous: str | None) -> None:
    """Give the environment variable ``name`` its previous value, or remove it if it had none."""
    if previous is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = previous


def trim_heap() -> bool:
    """Merge glibc's free heap chunks and give the free pages back to the kernel; True if done.

    An action on the whole process's heap, taken when called (nothing to undo): while a module
    runs, small allocations can split the freed block its big output came from, so the next
    output lands somewhere else and the set of addresses the module touches grows. Which of
    these states a measurement meets depends on everything that ran before it, and it shows as
    two clearly different speeds of the same module. Trimming before each timing starts every
    measurement from the same heap (its warm-up calls fault the pages back in). The timers call
    it only when asked (``trim=True``). Returns False without glibc; nothing changes then.
    """
    malloc_trim = _glibc_function("malloc_trim", ctypes.c_size_t)
    if malloc_trim is None:
        return False
    malloc_trim(0)  # returns 1 only if memory was released: both outcomes are a trimmed heap
    return True


def _transparent_huge_pages_mode() -> str:
    """The kernel's THP mode: "always", "madvise" or "never"; "" where there is none (not Linux)."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            chosen = re.search(r"\[(\w+)\]", f.read())
    except OSError:
        return ""
    return chosen.group(1) if chosen else ""


def _advised_huge_pages(address: int) -> bool:
    """Whether the memory mapping that holds ``address`` was advised to use huge pages (Linux).

    ``/proc/self/smaps`` lists each mapping as a "start-end ..." line followed by its fields;
    its ``VmFlags`` hold ``hg`` after ``madvise(MADV_HUGEPAGE)``.
    """
    try:
        with open("/proc/self/smaps") as f:
            lines = f.read().splitlines()
    except OSError:
        return False
    holds = False
    for line in lines:
        mapping = re.match(r"([0-9a-f]+)-([0-9a-f]+) ", line)
        if mapping:
            holds = int(mapping.group(1), 16) <= address < int(mapping.group(2), 16)
        elif holds and line.startswith("VmFlags:"):
            return "hg" in line.split()[1:]
    return False
