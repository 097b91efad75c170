"""A seccomp filter for the sandbox: no new user namespaces (clone, unshare), nothing through a foreign ABI.

When the server runs as root the sandbox has no user namespace of its own, so bwrap's --disable-userns
does not apply; without this filter the code could make nested user namespaces (`unshare -r`) and reach
kernel code (mounting, more namespaces) no analysis needs. clone3 passes its flags in memory a filter
cannot read, so it answers ENOSYS and the C library falls back to clone, whose flags it can. Pure data:
this module builds the classic-BPF program bwrap loads (`--seccomp FD`); it loads nothing itself.
"""

from __future__ import annotations

import errno
import platform
import struct

__all__ = ["program"]

_LD_W_ABS = 0x20
_JEQ = 0x15
_JGE = 0x35
_JSET = 0x45
_RET = 0x06
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
_CLONE_NEWUSER = 0x10000000
_X32_BIT = 0x40000000
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data (little-endian: the low half of args[0])

# machine: (AUDIT_ARCH, unshare, clone, clone3)
_MACHINES = {
    "x86_64": (0xC000003E, 272, 56, 435),
    "aarch64": (0xC00000B7, 97, 220, 435),
}


def program(machine: str | None = None) -> bytes | None:
    """The filter as bwrap reads it (an array of struct sock_filter), or None on a machine it does not know."""
    known = _MACHINES.get(machine or platform.machine())
    if known is None:
        return None
    arch, unshare, clone, clone3 = known
    # (code, jump-if-true label, jump-if-false label, k); labels are resolved to relative offsets below.
    steps: list[tuple[str | None, int, str | None, str | None, int]] = [
        (None, _LD_W_ABS, None, None, _ARCH),
        (None, _JEQ, None, "eperm", arch),  # another ABI (e.g. 32-bit calls): refused outright
        (None, _LD_W_ABS, None, None, _NR),
        (None, _JGE, "eperm", None, _X32_BIT if known[0] == 0xC000003E else 0xFFFFFFFF),
        (None, _JEQ, "enosys", None, clone3),
        (None, _JEQ, "flags", None, unshare),
        (None, _JEQ, "flags", None, clone),
        (None, _RET, None, None, _ALLOW),
        ("flags", _LD_W_ABS, None, None, _ARG0),
        (None, _JSET, "eperm", None, _CLONE_NEWUSER),
        (None, _RET, None, None, _ALLOW),
        ("eperm", _RET, None, None, _ERRNO | errno.EPERM),
        ("enosys", _RET, None, None, _ERRNO | errno.ENOSYS),
    ]
    where = {label: index for index, (label, *_rest) in enumerate(steps) if label}
    out = b""
    for index, (_label, code, if_true, if_false, k) in enumerate(steps):
        jt = where[if_true] - index - 1 if if_true else 0
        jf = where[if_false] - index - 1 if if_false else 0
        out += struct.pack("=HBBI", code, jt, jf, k)
    return out
