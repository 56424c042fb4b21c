"""fathom as of an earlier commit, measured beside the current one.

The commit is checked out into a temporary detached git worktree outside the repository and run
by the same venv interpreter with its own src/ first on PYTHONPATH, so both versions share the
interpreter and the installed dependencies and differ only in fathom's code.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.paths import REPO_ROOT, venv_python
from bench.tools import BASELINE_PREFIX, Tool, fathom_analyzer


class BaselineError(Exception):
    pass


def git(*args: str) -> str:
    out = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise BaselineError(f"git {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout.strip()


def resolve(ref: str) -> str:
    """The full commit id ref names."""
    try:
        return git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except BaselineError:
        raise BaselineError(f"{ref}: not a commit of {REPO_ROOT}") from None


@contextlib.contextmanager
def worktree(commit: str) -> Iterator[Path]:
    """A detached checkout of commit in a temporary directory, removed afterwards, also on errors."""
    parent = Path(tempfile.mkdtemp(prefix="fathom-baseline-"))
    path = parent / commit[:12]
    try:
        git("worktree", "add", "--detach", str(path), commit)
        yield path
    finally:
        # Unregisters the worktree; a failed `add` leaves nothing registered, so its error is moot.
        with contextlib.suppress(BaselineError):
            git("worktree", "remove", "--force", str(path))
        shutil.rmtree(parent, ignore_errors=True)


def check_runnable(python: str, env: dict[str, str], src: Path) -> None:
    """Fail unless `python -m fathom.cli` runs the checkout's fathom: a cli.py without a
    `__main__` guard would exit 0 having analyzed nothing, and the timing would be meaningless."""
    where = subprocess.run([python, "-c", "import fathom; print(fathom.__file__)"], env=env,
                           capture_output=True, text=True)  # fmt: skip
    if where.returncode != 0 or not Path(where.stdout.strip()).is_relative_to(src):
        raise BaselineError(f"{src}: fathom does not import from the checkout: {where.stderr.strip()}")
    usage = subprocess.run([python, "-m", "fathom.cli", "--help"], env=env, capture_output=True, text=True)
    if usage.returncode != 0 or "analyze" not in usage.stdout:
        raise BaselineError(
            f"{src}: `python -m fathom.cli --help` shows no usage; cli.py needs a __main__ guard"
        )


@dataclass(frozen=True)
class Baseline:
    ref: str
    commit: str
    tool: Tool

    def describe(self) -> dict[str, str]:
        return {"ref": self.ref, "commit": self.commit, "tool": self.tool.name}


@contextlib.contextmanager
def baseline(ref: str, rules_file: str) -> Iterator[Baseline]:
    """fathom as of ref, as a fathom@<short commit> tool, for as long as the context lasts."""
    commit = resolve(ref)
    with worktree(commit) as checkout:
        src = checkout / "src"
        env = {**os.environ, "PYTHONPATH": str(src)}
        python = venv_python()
        check_runnable(python, env, src)
        launcher = [python, "-m", "fathom.cli"]
        yield Baseline(
            ref, commit, fathom_analyzer(f"{BASELINE_PREFIX}{commit[:7]}", launcher, rules_file, env)
        )
