"""A throwaway git repository for the provenance tests: commit a file, get the commit."""

from __future__ import annotations

import subprocess
from pathlib import Path


def commit_file(repo: Path, text: str, name: str = "code.py") -> str:
    """Write ``text`` to ``repo/name`` and commit it (``repo`` made a repository the first
    time); returns the new commit's id."""

    def git(*argv: str) -> str:
        done = subprocess.run(["git", "-C", str(repo), *argv], check=True, capture_output=True)
        return done.stdout.decode().strip()

    if not (repo / ".git").exists():
        git("init", "-q")
    (repo / name).write_text(text)
    git("add", name)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", text)
    return git("rev-parse", "HEAD")
