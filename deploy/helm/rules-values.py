#!/usr/bin/env python3
"""Turn a rules directory into Helm values for the guard chart's rules ConfigMap.

    python deploy/helm/rules-values.py rules/ > rules-values.yaml
    helm upgrade --install guard deploy/helm/guard -f my-values.yaml -f rules-values.yaml

A ConfigMap is flat, so each file's relative path becomes its key with "/" written as "__"; the
chart mounts every key back at its path under /etc/guard/rules. ConfigMaps hold at most 1 MiB:
keep large lists (EDM hashes) on a volume of their own.
"""

import sys
from pathlib import Path

import yaml

LIMIT = 1024 * 1024


def rules_values(root: Path) -> dict:
    """Return {"rules": {"files": {relative path: text}}} for every file under `root`."""
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = path.relative_to(root).as_posix()
        if "__" in rel or rel.startswith("."):
            raise SystemExit(f"{rel}: file names under rules/ must not start with '.' or contain '__'")
        files[rel] = path.read_text(encoding="utf-8")
    if sum(len(t.encode()) for t in files.values()) > LIMIT:
        raise SystemExit(f"{root}: rules exceed a ConfigMap's 1 MiB; mount large files from a volume instead")
    return {"rules": {"files": files}}


if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        raise SystemExit("usage: rules-values.py RULES_DIR > rules-values.yaml")
    yaml.safe_dump(rules_values(Path(sys.argv[1])), sys.stdout, allow_unicode=True, sort_keys=True, width=4096)
