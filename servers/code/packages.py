"""install_packages: pip, run by the server outside the sandbox, into one session's own package folder.

The sandbox has no network, so the server downloads. Only wheels are accepted
(`--only-binary=:all:`): building a source distribution would run its code here,
outside the sandbox. Names are requirement strings (`pkg`, `pkg==1.2`,
`pkg[extra]>=2`); URLs, paths, file names and pip options are refused, an
allow-list may restrict the names, and pip receives each requirement rebuilt
from its canonical name, so nothing it is given can name a file. pip runs in
an empty folder of its own, isolated from pip's configuration and variables,
with the package index as its only source. Dependencies go into the same
folder (pip --target).
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from memento.servers.common.errors import AccessDenied, FetchFailed, InvalidInput, TimedOut

from .settings import CodeSettings

__all__ = ["Installed", "check_names", "distributions", "install", "pip_command", "pip_environment"]

log = logging.getLogger("memento.code")

_MAX_NAMES = 20
# What pip would take for a local file rather than a project name.
_FILE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".zip", ".egg")
# Variables pip may need to reach the index at all; everything else (PIP_*, the server's keys) stays out.
_FOR_PIP = frozenset(
    {"PATH", "LANG", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"}
)


@dataclass
class Installed:
    requested: list[str]
    installed: list[str]  # name==version of what pip put in the folder
    seconds: float
    log_tail: str


def check_names(names: list[str], settings: CodeSettings) -> list[str]:
    """The requirements to give pip, rebuilt from canonical names; raise on anything that is not a plain requirement."""
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
    rebuilt = []
    for name in cleaned:
        if name.startswith("-") or "/" in name or "\\" in name or ":" in name.split(";")[0]:
            raise InvalidInput(f"{name!r} is not a package name; give names like 'statsmodels' or 'sympy>=1.12'.")
        try:
            requirement = Requirement(name)
        except InvalidRequirement as exc:
            raise InvalidInput(f"{name!r} is not a valid requirement ({exc}).") from None
        if requirement.url:
            raise InvalidInput(f"{name!r} names a URL; only packages from the index can be installed.")
        if requirement.name.lower().endswith(_FILE_SUFFIXES):
            raise InvalidInput(f"{name!r} is a file name; give the project's name instead, e.g. 'statsmodels' or 'sympy>=1.12'.")
        if allowed and canonicalize_name(requirement.name) not in allowed:
            raise AccessDenied(
                f"{requirement.name} is not on this server's list of installable packages "
                f"(MEMENTO_CODE_INSTALL_ALLOW: {', '.join(sorted(allowed))})."
            )
        rebuilt.append(_rebuilt(requirement))
    return rebuilt


def _rebuilt(requirement) -> str:
    """The requirement with its canonical name (letters, digits and '-' only): pip cannot read it as a path."""
    from packaging.utils import canonicalize_name

    text = str(canonicalize_name(requirement.name))
    if requirement.extras:
        text += "[" + ",".join(sorted(canonicalize_name(e) for e in requirement.extras)) + "]"
    text += str(requirement.specifier)
    if requirement.marker is not None:
        text += f"; {requirement.marker}"
    return text


def pip_command(names: list[str], target: Path, settings: CodeSettings, python: str) -> list[str]:
    """The pip command line: wheels only, from the index only, no configuration or variables read."""
    argv = [
        python,
        "-I",
        "-m",
        "pip",
        "install",
        "--isolated",  # no pip.conf, no PIP_* variables: no --find-links or extra index slipped in
        "--target",
        str(target),
        "--only-binary=:all:",  # wheels only: no build step, so no package code runs outside the sandbox
        "--upgrade",
        "--no-input",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--no-color",
        "--progress-bar",
        "off",
    ]
    if settings.code_index_url:
        argv += ["--index-url", settings.code_index_url]
    return [*argv, "--", *names]


def pip_environment(folder: Path, settings: CodeSettings) -> dict[str, str]:
    """pip's whole environment, built from the settings: the network basics the user set, a private home."""
    env = {k: v for k, v in settings.passed_environment.items() if k.upper() in _FOR_PIP}
    return {**env, "HOME": str(folder), "TMPDIR": str(folder), "PYTHONNOUSERSITE": "1"}


def install(names: list[str], target: Path, settings: CodeSettings, python: str) -> Installed:
    before = distributions(target)
    argv = pip_command(names, target, settings, python)
    started = time.monotonic()
    try:
        # An empty folder of its own as the working directory: a relative name can never meet a planted file.
        with tempfile.TemporaryDirectory(prefix="memento-pip-") as folder:
            result = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=settings.code_install_timeout_s,
                stdin=subprocess.DEVNULL,
                cwd=folder,
                env=pip_environment(Path(folder), settings),
            )
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
