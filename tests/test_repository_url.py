"""The repository URL is one setting (`repository.url`, `repository.branch` in _config.yml).

The launch buttons, the hidden Colab install cell of every notebook, the README's badges,
links and pip line, and the book's own pages all derive from it; these tests say which file
disagrees. They also check that every notebook is in the table of contents and that every
entry of the table of contents exists.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

from _book_repo import (
    CONFIG,
    NOTEBOOKS,
    REPO_ROOT,
    TOC,
    cell_source,
    install_cell_requirement,
    install_spec,
    load_yaml,
    notebook_paths,
    read_notebook,
    rel,
    repository_settings,
    toc_files,
    toc_globs,
)

COLAB = "https://colab.research.google.com"
NOTEBOOK_PATHS = notebook_paths()
# Prose that points readers at the repository: the README, the book's pages, the chapters' text.
DOCUMENTS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "book").rglob("*.md")), *NOTEBOOK_PATHS]


def owner_repo(url: str) -> tuple[str, str]:
    parts = urlparse(url)
    segments = [s for s in parts.path.split("/") if s]
    assert parts.scheme == "https" and parts.netloc == "github.com" and len(segments) == 2, (
        f"_config.yml: repository.url must be https://github.com/<owner>/<repo> (the Colab "
        f"launch button and the Colab install cell only work with GitHub), got {url!r}"
    )
    assert not url.endswith((".git", "/")), (
        f"_config.yml: write repository.url without a trailing '.git' or '/', got {url!r}"
    )
    return segments[0], segments[1]


def colab_link(url: str, branch: str, notebook: str) -> str:
    """The Colab address of a notebook (``notebook`` relative to the repository root)."""
    owner, repo = owner_repo(url)
    return f"{COLAB}/github/{owner}/{repo}/blob/{branch}/{notebook}"


def test_repository_setting_is_a_github_url():
    url, branch = repository_settings()
    owner_repo(url)
    path_to_book = (load_yaml(CONFIG).get("repository") or {}).get("path_to_book", "")
    # The book's root is the repository root, so pages are found at their own path.
    assert path_to_book in ("", None), (
        f"_config.yml: repository.path_to_book must be empty (the book's root is the "
        f"repository root), got {path_to_book!r}"
    )
    assert re.fullmatch(r"[A-Za-z0-9._/-]+", branch), f"_config.yml: odd branch name {branch!r}"


def test_launch_buttons_derive_from_the_repository_setting():
    """Read the config through Jupyter Book itself, as the build will."""
    from jupyter_book.config import get_final_config

    url, branch = repository_settings()
    config = load_yaml(CONFIG)
    launch = config.get("launch_buttons") or {}
    html = config.get("html") or {}
    assert (launch.get("colab_url") or "").rstrip("/") == COLAB, (
        f"_config.yml: launch_buttons.colab_url must be {COLAB!r}, "
        f"got {launch.get('colab_url')!r}"
    )
    assert html.get("use_repository_button") is True, (
        "_config.yml: html.use_repository_button must be true"
    )

    sphinx_config, _ = get_final_config(
        user_yaml=CONFIG,
        cli_config={"latex_individualpages": False},
        sourcedir=REPO_ROOT,
        raise_on_invalid=True,
    )
    theme = sphinx_config["html_theme_options"]
    assert theme["repository_url"] == url, "_config.yml: the theme does not get repository.url"
    assert theme["repository_branch"] == branch, (
        "_config.yml: the theme does not get repository.branch (it would fall back to 'master')"
    )
    assert theme["launch_buttons"]["colab_url"].rstrip("/") == COLAB
    assert theme["use_repository_button"] is True
    # sphinx-book-theme builds the button as {colab_url}/github/{org}/{repo}/blob/{branch}/
    # {path_to_docs}{page}.ipynb; with an empty path_to_docs that is our colab_link().
    for nb in NOTEBOOK_PATHS:
        owner, repo = url.split("github.com/")[-1].split("/")[:2]
        page = f"{theme['path_to_docs'].strip('/')}/{rel(nb)}".lstrip("/")
        theme_link = f"{COLAB}/github/{owner}/{repo}/blob/{theme['repository_branch']}/{page}"
        assert theme_link == colab_link(url, branch, rel(nb)), rel(nb)


def test_there_are_notebooks():
    assert NOTEBOOK_PATHS, f"no notebooks found under {rel(NOTEBOOKS)}/"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=[p.name for p in NOTEBOOK_PATHS])
def test_first_cell_installs_the_package_from_the_repository(path: Path):
    url, branch = repository_settings()
    nb = read_notebook(path)
    assert nb.get("cells"), f"{rel(path)}: the notebook has no cells"
    requirement = install_cell_requirement(nb["cells"][0], rel(path))
    expected = install_spec(url, branch)
    assert requirement == expected, (
        f"{rel(path)}: the install cell installs {requirement!r}, but _config.yml's "
        f"repository setting gives {expected!r}"
    )
    for i, cell in enumerate(nb["cells"][1:], start=2):
        if cell.get("cell_type") == "code":
            assert "google.colab" not in cell_source(cell), (
                f"{rel(path)}: cell {i} also tests for Colab; only the first cell may"
            )


def _toc() -> dict:
    return load_yaml(TOC)


def _resolve(entry: str) -> Path | None:
    path = REPO_ROOT / entry
    if path.suffix in (".md", ".ipynb", ".rst") and path.is_file():
        return path
    for suffix in (".md", ".ipynb", ".rst"):
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def test_every_toc_entry_exists():
    missing = [entry for entry in toc_files(_toc()) if _resolve(entry) is None]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_every_notebook_is_in_the_toc():
    toc = _toc()
    listed = {_resolve(entry) for entry in toc_files(toc)}
    for pattern in toc_globs(toc):
        listed.update(p for p in REPO_ROOT.glob(pattern + ".ipynb"))
        listed.update(p for p in REPO_ROOT.glob(pattern))
    missing = [rel(p) for p in NOTEBOOK_PATHS if p not in listed]
    assert not missing, f"notebooks missing from _toc.yml: {missing}"


# --- the README and the book's pages --------------------------------------------------------

_URL = r"https?://[^\s)\]>\"'`]+"


def _links(text: str) -> list[str]:
    return [u.rstrip(".,;:") for u in re.findall(_URL, text)]


def _looks_like_ours(link: str, owner: str, repo: str) -> bool:
    """A GitHub link to this project, also under an old owner or name (so stale ones show)."""
    if "github.com/" not in link:
        return False
    path = link.split("github.com/", 1)[1].lower()
    return "lightattn" in path or repo.lower() in path or path.startswith(owner.lower() + "/")


@pytest.mark.parametrize("path", DOCUMENTS, ids=[rel(p) for p in DOCUMENTS])
def test_documents_use_the_repository_setting(path: Path):
    """Colab links, repository links and pip lines in prose all use the one URL and branch."""
    url, branch = repository_settings()
    owner, repo = owner_repo(url)
    if path.suffix == ".ipynb":  # the chapter's text; its install cell has its own test
        cells = read_notebook(path).get("cells", [])
        text = "\n".join(cell_source(c) for c in cells if c.get("cell_type") == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    where = rel(path)
    for link in _links(text):
        if link.startswith(f"{COLAB}/github/"):
            target = link[len(f"{COLAB}/github/"):]
            prefix = f"{owner}/{repo}/blob/{branch}/"
            assert target.startswith(prefix), (
                f"{where}: Colab link {link} does not open {owner}/{repo} at branch "
                f"{branch!r}; expected {COLAB}/github/{prefix}notebooks/<chapter>.ipynb"
            )
            notebook = target[len(prefix):]
            assert notebook.startswith("notebooks/") and (REPO_ROOT / notebook).is_file(), (
                f"{where}: Colab link {link} points at {notebook}, which is not a notebook "
                f"under notebooks/"
            )
        elif _looks_like_ours(link, owner, repo):
            assert link == url or link.startswith(url + "/") or link.startswith(url + "@"), (
                f"{where}: link {link} does not match _config.yml's repository.url {url}"
            )
    for spec in re.findall(r"lightattn-ref\s*(?:\[[^\]]*\])?\s*@\s*git\+[^\s\"'`)]+", text):
        assert spec == install_spec(url, branch), (
            f"{where}: pip requirement {spec!r} does not match _config.yml; "
            f"expected {install_spec(url, branch)!r}"
        )
    assert "git+" not in text.replace(install_spec(url, branch), ""), (
        f"{where}: a git+ URL other than {install_spec(url, branch)!r}"
    )


def test_readme_has_colab_badge_repository_link_and_pip_line():
    url, branch = repository_settings()
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    badge = re.search(
        r"\[!\[[^\]]*\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
        r"\((?P<link>[^)]+)\)",
        readme,
    )
    assert badge, "README.md: no 'Open in Colab' badge ([![...](.../colab-badge.svg)](link))"
    first = NOTEBOOK_PATHS[0] if NOTEBOOK_PATHS else None
    link = badge.group("link")
    assert link.startswith(colab_link(url, branch, "notebooks/")), (
        f"README.md: the Colab badge links to {link}; expected "
        f"{colab_link(url, branch, rel(first) if first else 'notebooks/<chapter>.ipynb')}"
    )
    assert f"]({url})" in readme, f"README.md: no link to the repository {url}"
    pip_line = f'pip install "{install_spec(url, branch)}"'
    assert pip_line in readme, f"README.md: no pip line `{pip_line}`"
