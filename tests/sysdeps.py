"""Tests that need a system program or shared data skip on a developer's machine without it,
and run (so fail) in CI, where `make test` has installed everything (CI=true)."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def needs(present: bool, what: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not present and not IN_CI, reason=f"{what} is not available here (`make install` provides it)")
