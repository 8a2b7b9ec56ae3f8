"""Build the site's policy from rules/, and keep it fresh: PolicyHolder reloads when files change."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from guard.config import default_home
from guard.core import Classification, Decision, Finding, Segment
from guard.detect.rules import BUNDLED_RULES, RuleError
from guard.events import load_fingerprint_key
from guard.policy import DefaultPolicy, RequestContext
from guard.policy.classify import load_classifiers
from guard.policy.destinations import load_destinations
from guard.policy.edm import EdmError
from guard.policy.engine import Policy
from guard.policy.groups import load_groups
from guard.policy.reviewed import load_reviewed
from guard.policy.spec import load_spec

log = logging.getLogger("guard.policy")


def default_edm_dir() -> Path:
    """Where `guard edm import` writes and the policy reads EDM stores: GUARD_EDM_DIR or GUARD_HOME/edm."""
    return Path(os.environ.get("GUARD_EDM_DIR") or default_home() / "edm")


def load_site_policy(
    rules_dir: Path | None = None, *, private_model_url: str | None = None, edm_dir: Path | None = None
) -> DefaultPolicy:
    """Load policy.yaml, classifiers.yaml, groups.yaml and destinations.yaml into one Policy."""
    root = Path(rules_dir) if rules_dir else BUNDLED_RULES
    spec_path = root / "policy.yaml"
    if not spec_path.is_file():
        return DefaultPolicy()
    try:
        spec = load_spec(spec_path)
        classifiers = load_classifiers(root, edm_dir or default_edm_dir())
        groups, _ = load_groups(root)
        dests = load_destinations(root, private_model_url)
    except EdmError as exc:
        raise RuleError(str(exc)) from None
    reviewed, _ = load_reviewed(root, lambda: load_fingerprint_key(default_home()))
    if reviewed:
        spec = replace(spec, allowlists=spec.allowlists + tuple(reviewed))
    if spec.private_target and not dests.private_named(spec.private_target):
        raise RuleError(f"{spec_path}: field 'private_target': no private destination named {spec.private_target!r}")
    return Policy(spec, classifiers, groups, dests)


def watched_files(rules_dir: Path | None, edm_dir: Path | None = None) -> dict[Path, float]:
    """mtime of every file the policy is built from (and the EDM directory itself, for new stores)."""
    root = Path(rules_dir) if rules_dir else BUNDLED_RULES
    edm = edm_dir or default_edm_dir()
    paths = [
        root / n for n in ("policy.yaml", "classifiers.yaml", "groups.yaml", "destinations.yaml", "allowlist.yaml")
    ]
    paths += sorted(root.glob("classifiers/*")) + [edm] + (sorted(edm.glob("*.edm")) if edm.is_dir() else [])
    out = {}
    for p in paths:
        try:
            st = p.stat()
            out[p] = st.st_mtime_ns + st.st_size
        except OSError:
            out[p] = -1
    return out


class PolicyHolder:
    """The policy in force; `get()` reloads rules/ when a file changed, keeping the last good one on error."""

    def __init__(
        self,
        rules_dir: Path | None = None,
        *,
        private_model_url: str | None = None,
        edm_dir: Path | None = None,
        interval_s: float = 1.0,
    ) -> None:
        self.rules_dir, self.private_model_url = rules_dir, private_model_url
        self.edm_dir = edm_dir
        self.interval_s = interval_s
        self.last_error = ""
        self.generation = 0
        self._lock = threading.Lock()
        self._stamp = watched_files(rules_dir, edm_dir)
        self._policy = load_site_policy(rules_dir, private_model_url=private_model_url, edm_dir=edm_dir)
        self._checked = time.monotonic()

    def get(self) -> DefaultPolicy:
        """The current policy; at most every interval_s, check the files and reload if they changed."""
        if time.monotonic() - self._checked >= self.interval_s:
            self.check()
        return self._policy

    def check(self) -> bool:
        """Reload now if any file changed; return True when a new policy took effect."""
        with self._lock:
            self._checked = time.monotonic()
            stamp = watched_files(self.rules_dir, self.edm_dir)
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            try:
                policy = load_site_policy(
                    self.rules_dir, private_model_url=self.private_model_url, edm_dir=self.edm_dir
                )
            except (RuleError, OSError) as exc:
                # Keep enforcing the last good policy; the error names file:line:field, never prompt text.
                self.last_error = str(exc)
                log.error("policy reload rejected, keeping the previous policy: %s", exc)
                return False
            self._policy = policy
            self.last_error = ""
            self.generation += 1
            log.info("policy reloaded (generation %d)", self.generation)
            return True

    # The pipeline may hold the holder itself: each call goes to the policy in force.

    @property
    def destinations(self) -> object:
        return getattr(self.get(), "destinations", None)

    @property
    def private_target(self) -> str:
        return self.get().private_target

    @property
    def on_private_unavailable(self) -> str:
        return self.get().on_private_unavailable

    def classify(self, segments: Sequence[Segment]) -> list[Classification]:
        """Classify with the policy in force."""
        return self.get().classify(segments)

    def applicable(self, ctx: RequestContext, findings: Sequence[tuple[Segment, Finding]]) -> list:
        """Filter findings with the policy in force."""
        return self.get().applicable(ctx, findings)

    def decide(
        self,
        ctx: RequestContext,
        findings: Sequence[tuple[Segment, Finding]],
        classifications: Sequence[Classification] = (),
    ) -> Decision:
        """Decide with the policy in force."""
        return self.get().decide(ctx, findings, classifications)
