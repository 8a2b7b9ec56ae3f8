"""Ship rules/ inside the wheel as guard/_rules, so an installed guard finds its bundled rules.

Everything else is in pyproject.toml. A source checkout (and `pip install -e .`) reads rules/ in
place; only a built wheel needs the copy (see guard.detect.rules.BUNDLED_RULES).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithRules(build_py):
    """build_py that also copies the top-level rules/ directory into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        src = Path(__file__).resolve().parent / "rules"
        dst = Path(self.build_lib) / "guard" / "_rules"
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithRules})
