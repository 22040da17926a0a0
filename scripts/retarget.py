"""Point the course at another GitHub repository (a teacher's fork): badges, install lines, README.

Run:  python scripts/retarget.py OWNER/NAME [--branch BRANCH]     (or: make retarget REPO=OWNER/NAME)

The address is written once, as ``[tool.imgsim] repository`` in ``pyproject.toml``; the build
script makes every notebook's badges from it. Copies of it also sit in text that learners see
before anything runs: the Colab install cell of each source and notebook, the README's badges
and clone line. This script rewrites the setting and every such copy in place, without running
a notebook (stored outputs are kept), so ``make test`` still passes on the fork.

Only addresses of the course itself change: links to other repositories (FAISS, the original
tutorial) are left alone.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,100}$")
TEXT_SUFFIXES = {".py", ".md", ".ipynb", ".yml", ".yaml", ".toml", ".txt", ".cfg", ".sh", ""}
# What may stand right before OWNER/NAME in a course address: github.com/, Colab's /github/,
# Binder's /gh/, raw.githubusercontent.com/.
PREFIX = r"(github\.com/|/github/|/gh/|usercontent\.com/)"


def read_setting(root: Path = ROOT) -> tuple[str, str]:
    """``(repository, branch)`` from ``[tool.imgsim]`` in ``pyproject.toml``."""
    text = (root / "pyproject.toml").read_text()
    section = text.split("[tool.imgsim]", 1)[-1].split("\n[", 1)[0] if "[tool.imgsim]" in text else ""
    found = dict(re.findall(r'^(\w+)\s*=\s*"([^"]*)"', section, flags=re.M))
    if "repository" not in found:
        raise ValueError(f"{root / 'pyproject.toml'} has no [tool.imgsim] repository = \"OWNER/NAME\"; "
                         "add that section (see the repository's own pyproject.toml)")
    return found["repository"], found.get("branch", "main")


def rewrite(text: str, old: str, new: str, old_branch: str, new_branch: str) -> str:
    """Replace the course address ``old`` by ``new`` (and the branch in launch links).

    >>> rewrite("git+https://github.com/a/b and github.com/c/b", "a/b", "me/fork", "main", "main")
    'git+https://github.com/me/fork and github.com/c/b'
    >>> rewrite("mybinder.org/v2/gh/a/b/main?urlpath=x", "a/b", "a/b", "main", "dev")
    'mybinder.org/v2/gh/a/b/dev?urlpath=x'
    """
    text = re.sub(PREFIX + re.escape(old) + r"(?![A-Za-z0-9_-])", lambda match: match.group(1) + new, text)
    if old_branch != new_branch:
        repo = re.escape(new)
        text = re.sub(rf"({repo}/blob/){re.escape(old_branch)}/", rf"\g<1>{new_branch}/", text)
        text = re.sub(rf"(/gh/{repo}/){re.escape(old_branch)}\?", rf"\g<1>{new_branch}?", text)
    return text


def course_files(root: Path = ROOT) -> list[Path]:
    """Tracked text files that may carry the address (this script excepted)."""
    listed = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout
    paths = [root / name for name in listed.splitlines()]
    return [path for path in paths if path.is_file() and path.suffix in TEXT_SUFFIXES
            and path.name != "retarget.py" and path.stat().st_size < 5_000_000]


def retarget(new: str, branch: str | None = None, root: Path = ROOT) -> list[Path]:
    """Rewrite the setting and every copy of the address; returns the files changed."""
    if not REPOSITORY.match(new):
        raise ValueError(f"expected a GitHub repository as OWNER/NAME (e.g. my-school/imgsim-tutorial), got {new!r}")
    old, old_branch = read_setting(root)
    new_branch = branch or old_branch
    if not BRANCH.match(new_branch):
        raise ValueError(f"expected a branch name such as main, got {new_branch!r}")
    changed = []
    for path in course_files(root):
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        updated = rewrite(text, old, new, old_branch, new_branch)
        if path.name == "pyproject.toml" and path.parent == root:
            updated = re.sub(r'^(repository\s*=\s*)"[^"]*"', rf'\g<1>"{new}"', updated, count=1, flags=re.M)
            updated = re.sub(r'^(branch\s*=\s*)"[^"]*"', rf'\g<1>"{new_branch}"', updated, count=1, flags=re.M)
        if updated != text:
            path.write_text(updated)
            changed.append(path)
    return changed


def main(arguments: list[str]) -> int:
    branch = None
    if "--branch" in arguments:
        at = arguments.index("--branch")
        branch = arguments[at + 1] if at + 1 < len(arguments) else ""
        arguments = arguments[:at] + arguments[at + 2:]
    if len(arguments) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    old = read_setting()[0]
    changed = retarget(arguments[0], branch)
    print(f"{old} -> {arguments[0]}: {len(changed)} files rewritten")
    for path in changed:
        print(f"  {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
