"""Print the third-party requirements of Attesta packages, one per line.

Used by the Dockerfiles to install dependencies in a layer of their own, built from the
pyproject.toml files alone, so editing source code does not reinstall them. Internal
`attesta-*` requirements are left out: those packages are installed from source later.

    python external_requirements.py libs/common/pyproject.toml services/executor/pyproject.toml
"""

from __future__ import annotations

import sys
import tomllib


def main(paths: list[str]) -> None:
    seen: dict[str, None] = {}
    for path in paths:
        with open(path, "rb") as handle:
            project = tomllib.load(handle)["project"]
        for requirement in project.get("dependencies", []):
            if not requirement.startswith("attesta-"):
                seen.setdefault(requirement, None)
    print("\n".join(seen))


if __name__ == "__main__":
    main(sys.argv[1:])
