"""Print pip constraints pinning what users install, the runtime dependencies of pyproject.toml
and its user-facing extras (not ``dev``), to the lowest version each allows (``name>=X`` ->
``name==X``), to test that those floors really work. The test tools of ``dev`` stay current:
their floors are not what a user of the package gets."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

project = tomllib.loads(Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml").read_text())[
    "project"
]
requirements = list(project["dependencies"])
for name, extra in project.get("optional-dependencies", {}).items():
    if name != "dev":
        requirements.extend(extra)
for requirement in requirements:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-\[\]]+?)(\[.*\])?\s*>=\s*([^,;\s]+)\s*", requirement)
    if match is None:
        sys.exit(f"no lower bound to pin in {requirement!r}")
    print(f"{match.group(1)}=={match.group(3)}")
