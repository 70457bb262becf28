"""The Colab path, end to end, on this machine.

Colab opens a chapter from GitHub in a Python that already has torch, numpy, matplotlib,
scikit-learn, tqdm and a Jupyter kernel, and nothing of ours. The notebook's hidden first cell
then pip-installs the package from the repository. This test rebuilds that situation:

1. clone the repository this test runs from (committed state only, as GitHub would serve it)
   and put the configured branch at the tested commit;
2. create a fresh virtual environment holding only what Colab preinstalls and we rely on
   (versions from requirements.txt, so pip takes them from its cache and torch from the local
   wheel: nothing big downloads);
3. run the quick-tour notebook in a kernel of that environment, in an empty working folder,
   with its install cell executed for real: a stand-in ``google.colab`` module makes the
   Colab guard true and the configured https URL is swapped for the clone's file URL, so
   ``%pip install "lightattn-ref @ git+file://<clone>@<branch>"`` resolves the package's
   own dependencies;
4. check that every cell ran and that ``lightattn_ref`` came from the fresh environment's
   site-packages, not from a checkout.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from _book_repo import REPO_ROOT, install_cell_requirement, install_spec, load_yaml

NOTEBOOK = "notebooks/00_quick_tour.ipynb"
# What Colab preinstalls and our chapters rely on (torchinfo is not among them), plus the kernel.
COLAB_PREINSTALLED = ["torch", "numpy", "matplotlib", "scikit-learn", "tqdm", "ipykernel"]
KERNEL = "colab-sim"


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (
        f"command failed ({result.returncode}): {' '.join(map(str, cmd))}\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def clean_env(venv: Path) -> dict[str, str]:
    """The environment of a process 'inside' the fresh venv: nothing points back at ours."""
    drop = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PIP_USER", "MPLBACKEND")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in drop and not k.startswith(("JUPYTER", "IPYTHON", "CONDA"))
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


# The fresh environment holds a full torch (about 1 GB). It stays in tmp_path: pytest keeps
# only its last three temporary folders, and deleting 1 GB here costs up to a minute on a busy
# machine.
def test_quick_tour_runs_as_in_colab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    git = shutil.which("git")
    assert git, "git is needed to clone the repository and for pip's git+ URLs"
    t0 = time.perf_counter()

    # 1. The repository as GitHub would serve it: committed files, the configured branch.
    found = subprocess.run(
        [git, "rev-parse", "--show-toplevel"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    if found.returncode != 0:
        pytest.skip("not a git checkout: the Colab path installs the package from git")
    toplevel = found.stdout.strip()
    clone = tmp_path / "repo"
    run([git, "clone", "--quiet", toplevel, str(clone)])
    repository = load_yaml(clone / "_config.yml")["repository"]
    url, branch = repository["url"], repository["branch"]
    run([git, "-C", str(clone), "checkout", "--quiet", "-B", branch])

    # 2. A fresh environment with only what Colab preinstalls (and we rely on).
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    env = clean_env(venv)
    # A current pip, as on Colab (the one bundled with Python 3.11.7 rejects git+file:/// URLs).
    # --no-compile: byte-compiling torch would double the time; Python compiles on import.
    run(
        [str(python), "-m", "pip", "install", "-q", "--no-compile", "--upgrade",
         "-c", str(clone / "requirements.txt"), "pip", *COLAB_PREINSTALLED],
        env=env,
    )
    t_env = time.perf_counter()

    # 3. The chapter, with its install cell made to run as in Colab, against the clone.
    nb = nbformat.read(clone / NOTEBOOK, as_version=4)
    requirement = install_cell_requirement(nb.cells[0], NOTEBOOK)
    assert requirement == install_spec(url, branch), f"{NOTEBOOK}: {requirement!r}"
    local_spec = install_spec(clone.as_uri(), branch)  # git+file:///.../repo@<branch>
    install = nb.cells[0].source.replace(install_spec(url, branch), local_spec)
    assert local_spec in install
    nb.cells[0].source = (
        "import sys, types\n"
        'sys.modules["google.colab"] = types.ModuleType("google.colab")  # stand-in for Colab\n'
        + install
        + '\nassert get_ipython().user_ns.get("_exit_code") == 0, "the %pip install failed"\n'
    )
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import json, sys, lightattn_ref\n"
            'print(json.dumps({"file": lightattn_ref.__file__, "prefix": sys.prefix}))'
        )
    )
    kernels = tmp_path / "jupyter" / "kernels" / KERNEL
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Colab simulation",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    content = tmp_path / "content"  # Colab's empty working folder: no checkout to import from
    content.mkdir()
    kernel_env = dict(env, IPYTHONDIR=str(tmp_path / "ipython"))  # no startup files of ours
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=600,
        resources={"metadata": {"path": str(content)}},
    )
    error = None
    try:
        client.execute(env=kernel_env)
    except CellExecutionError as exc:
        error = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # without IPython's colours
    if error:
        pytest.fail(f"{NOTEBOOK} failed in the Colab simulation:\n{error}", pytrace=False)
    t_run = time.perf_counter()

    # 4. Everything ran, and the package came from the fresh environment's site-packages.
    last = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("name") == "stdout")
    where = json.loads(last.strip().splitlines()[-1])
    package_file = Path(where["file"]).resolve()
    site_packages = [p.resolve() for p in (venv / "lib").glob("python3*/site-packages")]
    assert Path(where["prefix"]).resolve() == venv.resolve(), where
    assert any(package_file.is_relative_to(sp) for sp in site_packages), (
        f"lightattn_ref was imported from {package_file}, not from the fresh environment's "
        f"site-packages {site_packages}"
    )
    for checkout in (Path(toplevel).resolve(), clone.resolve()):
        assert not package_file.is_relative_to(checkout), package_file
    print(
        f"\nColab simulation: environment {t_env - t0:.0f} s, "
        f"notebook incl. install {t_run - t_env:.0f} s, total {t_run - t0:.0f} s"
    )
