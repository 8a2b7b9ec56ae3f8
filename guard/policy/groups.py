"""rules/groups.yaml: which user belongs to which group (the user comes from the proxy's auth).

groups:
  finance: [alice, bob, "*@finance.example.com"]   # user names or fnmatch globs
  pentest: [mallory]
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from guard.detect.rules import RuleError, load_yaml

_GROUP_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")


@dataclass(frozen=True)
class GroupMap:
    """User -> groups, from exact names and globs."""

    members: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (group, user names / globs)

    def groups_for(self, user: str) -> tuple[str, ...]:
        """The groups this user is in (case-insensitive match on the user name)."""
        if not user:
            return ()
        u = user.lower()
        return tuple(g for g, pats in self.members if any(fnmatch.fnmatchcase(u, p) for p in pats))


def load_groups(rules_dir: Path) -> tuple[GroupMap, tuple[Path, ...]]:
    """Load rules/groups.yaml (missing: nobody is in any group)."""
    path = rules_dir / "groups.yaml"
    if not path.is_file():
        return GroupMap(), ()
    doc = load_yaml(path) or {}
    groups = doc.get("groups") if isinstance(doc, dict) else None
    if not isinstance(groups, dict):
        raise RuleError(f"{path}: top level must be a mapping with a 'groups' mapping (group: [users])")
    line = groups.get("__line__", 0)
    out = []
    for name, users in groups.items():
        if name == "__line__":
            continue
        if not isinstance(name, str) or not _GROUP_RE.match(name):
            raise RuleError(f"{path}:{line}: field 'groups.{name}': group names are lowercase, digits, '-' or '_'")
        if not isinstance(users, list) or not all(isinstance(u, str) and u for u in users):
            raise RuleError(f"{path}:{line}: field 'groups.{name}': must be a list of user names or globs")
        out.append((name, tuple(u.lower() for u in users)))
    return GroupMap(tuple(out)), (path,)
