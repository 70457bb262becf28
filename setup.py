"""Builds the optional C kernel of ULSAM's inference pooling; everything else is in pyproject.toml.

The kernel is plain C with no PyTorch headers (see lightattn_ref/attention/_ulsam_kernel.c), so
it builds in a second and serves any PyTorch version. It is optional: where no C compiler is at
hand the install still succeeds, and ULSAM runs its PyTorch path (``ulsam.C_KERNEL`` is None).

On Linux it is built with OpenMP: it then names libgomp.so.1, which the loader binds to the copy
PyTorch has already loaded, so the kernel's threads are PyTorch's own. Elsewhere PyTorch ships
another OpenMP runtime (or none), and the kernel runs on one thread.
"""

import sys

from setuptools import Extension, setup

if sys.platform == "win32":
    flags = ["/O2"]
elif sys.platform.startswith("linux"):
    flags = ["-O3", "-std=c99", "-fopenmp"]
else:
    flags = ["-O3", "-std=c99"]
kernel = Extension(
    "lightattn_ref.attention._ulsam_kernel",
    sources=["lightattn_ref/attention/_ulsam_kernel.c"],
    extra_compile_args=flags,
    extra_link_args=["-fopenmp"] if "-fopenmp" in flags else [],
    optional=True,
)
setup(ext_modules=[kernel])
