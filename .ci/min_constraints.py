"""Print pip constraints pinning every dependency of pyproject.toml (runtime and extras) to the
lowest version it allows (``name>=X`` -> ``name==X``), to test that those floors really work."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

project = tomllib.loads(Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml").read_text())[
    "project"
]
requirements = list(project["dependencies"])
for extra in project.get("optional-dependencies", {}).values():
    requirements.extend(extra)
for requirement in requirements:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-\[\]]+?)(\[.*\])?\s*>=\s*([^,;\s]+)\s*", requirement)
    if match is None:
        sys.exit(f"no lower bound to pin in {requirement!r}")
    print(f"{match.group(1)}=={match.group(3)}")
