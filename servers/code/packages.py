"""install_packages: pip, run by the server outside the sandbox, into one session's own package folder.

The sandbox has no network, so the server downloads. Only wheels are accepted
(`--only-binary=:all:`): building a source distribution would run its code here,
outside the sandbox. Names are requirement strings (`pkg`, `pkg==1.2`,
`pkg[extra]>=2`); URLs, paths and pip options are refused, and an allow-list
may restrict the names. Dependencies go into the same folder (pip --target).
"""

from __future__ import annotations

import logging
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from memento.servers.common.errors import AccessDenied, FetchFailed, InvalidInput, TimedOut

from .settings import CodeSettings

__all__ = ["Installed", "check_names", "distributions", "install"]

log = logging.getLogger("memento.code")

_MAX_NAMES = 20


@dataclass
class Installed:
    requested: list[str]
    installed: list[str]  # name==version of what pip put in the folder
    seconds: float
    log_tail: str


def check_names(names: list[str], settings: CodeSettings) -> list[str]:
    """Validated requirement strings; raise on anything that is not a plain requirement."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    if not settings.code_install:
        raise AccessDenied("Installing packages is turned off on this server (MEMENTO_CODE_INSTALL=false).")
    cleaned = [n.strip() for n in names if n.strip()]
    if not cleaned:
        raise InvalidInput("Give at least one package name, e.g. names=['statsmodels'].")
    if len(cleaned) > _MAX_NAMES:
        raise InvalidInput(f"At most {_MAX_NAMES} packages per call; got {len(cleaned)}.")
    allowed = {canonicalize_name(a) for a in settings.code_install_allow}
    for name in cleaned:
        if name.startswith("-") or "/" in name or "\\" in name or ":" in name.split(";")[0]:
            raise InvalidInput(f"{name!r} is not a package name; give names like 'statsmodels' or 'sympy>=1.12'.")
        try:
            requirement = Requirement(name)
        except InvalidRequirement as exc:
            raise InvalidInput(f"{name!r} is not a valid requirement ({exc}).") from None
        if requirement.url:
            raise InvalidInput(f"{name!r} names a URL; only packages from the index can be installed.")
        if allowed and canonicalize_name(requirement.name) not in allowed:
            raise AccessDenied(
                f"{requirement.name} is not on this server's list of installable packages "
                f"(MEMENTO_CODE_INSTALL_ALLOW: {', '.join(sorted(allowed))})."
            )
    return cleaned


def install(names: list[str], target: Path, settings: CodeSettings, python: str) -> Installed:
    before = distributions(target)
    argv = [
        python,
        "-m",
        "pip",
        "install",
        "--target",
        str(target),
        "--only-binary=:all:",  # wheels only: no build step, so no package code runs outside the sandbox
        "--upgrade",
        "--no-input",
        "--disable-pip-version-check",
        "--no-color",
        "--progress-bar",
        "off",
    ]
    if settings.code_index_url:
        argv += ["--index-url", settings.code_index_url]
    argv += ["--", *names]
    started = time.monotonic()
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=settings.code_install_timeout_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise TimedOut(f"pip did not finish within {settings.code_install_timeout_s:g} s (MEMENTO_CODE_INSTALL_TIMEOUT_S).") from exc
    seconds = time.monotonic() - started
    if result.returncode != 0:
        tail = _tail(result.stderr or result.stdout)
        hint = ""
        if "No matching distribution" in tail or "Could not find a version" in tail:
            hint = " Check the name and version; only packages published as wheels for this Python can be installed."
        raise FetchFailed(f"pip could not install {', '.join(names)}:\n{tail}{hint}")
    after = distributions(target)
    changed = sorted(d for d in after if d not in before)
    log.info("installed %s into %s in %.1f s", ", ".join(changed) or "nothing new", target, seconds)
    return Installed(requested=names, installed=changed, seconds=seconds, log_tail=_tail(result.stdout, 5))


def distributions(target: Path) -> set[str]:
    found = set()
    for info in target.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        found.add(f"{name}=={version}")
    return found


def _tail(text: str, lines: int = 15) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n".join(kept)[-3000:]
