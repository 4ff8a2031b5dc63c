"""Copy blind-written rubric scenarios into the repository: ``python -m tests.rubric.sync DIR``.

Each ``NN-slug`` folder of DIR that has an ``event.json`` and a ``facts.json`` is copied to
``tests/rubric/scenarios/`` with its ``followup.json`` and ``README.md`` when present, and DIR's own
``README.md`` (the authors' description of the scenarios) becomes ``scenarios/README.md``. From then
on they are the project's own fixtures: nothing outside the repository is read by the tests.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.rubric.harness import SCENARIOS

FILES = ("event.json", "followup.json", "facts.json", "README.md")


def sync(source: Path, target: Path = SCENARIOS) -> list[str]:
    copied = []
    target.mkdir(parents=True, exist_ok=True)
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        if not ((folder / "event.json").exists() and (folder / "facts.json").exists()):
            continue
        out = target / folder.name
        out.mkdir(exist_ok=True)
        for name in FILES:
            if (folder / name).exists():
                shutil.copyfile(folder / name, out / name)
        copied.append(folder.name)
    if (source / "README.md").exists():
        shutil.copyfile(source / "README.md", target / "README.md")
    return copied


if __name__ == "__main__":
    names = sync(Path(sys.argv[1] if len(sys.argv) > 1 else "../rubric"))
    print(f"{len(names)} scenarios: {', '.join(names)}")
