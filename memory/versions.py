"""Where the Q-policy's versions live, so that every client of a bank learns from the same policy.

An embedded bank keeps them in a folder beside its store (`q-vNNNNN.bin` and a
`current.json` naming the newest); its writers already take the store's file
lock. A bank on a Chroma server keeps them in a collection beside the cases, so
every machine that shares the cases shares the policy too. Chroma has no
transactions, so publishing is optimistic: a writer names the version it
started from and claims the next number with an `add`, which Chroma ignores
when the id is taken; reading the claim back tells the writer whether it won.
A loser learns that another client got there first and starts again from the
newer version. This module moves bytes only; it knows nothing of Q itself.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any, Protocol

__all__ = ["ChromaVersions", "FolderVersions", "PolicyVersions", "KEEP_VERSIONS"]

KEEP_VERSIONS = 5
_PART_CHARS = 4_000_000  # one Chroma document per part keeps each request moderate (a 10,000-task model is ~20 MB)
_FACTS = (str, int, float, bool)  # what a Chroma metadata value may be


class PolicyVersions(Protocol):
    """The versions of one bank's Q-policy. `head` describes the newest (with `version`), or is None."""

    where: str

    def head(self, fresh: bool = False) -> dict[str, Any] | None: ...

    def read(self, head: dict[str, Any]) -> bytes | None: ...

    def publish(self, base: int, data: bytes, facts: dict[str, Any]) -> dict[str, Any] | None: ...

    def history(self, limit: int = 20) -> list[dict[str, Any]]: ...


HISTORY_FACTS = ("version", "trained_on", "transitions_seen", "train_seconds", "saved_at")


class FolderVersions:
    """Versions as files in `folder`; `current.json` names the newest, the last KEEP_VERSIONS are kept."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.where = str(folder)
        self._seen: tuple[int, int, int] | None = None  # (inode, mtime_ns, size) of current.json when last read
        self._head: dict[str, Any] | None = None

    @property
    def _pointer(self) -> Path:
        return self.folder / "current.json"

    def head(self, fresh: bool = False) -> dict[str, Any] | None:
        # Saves replace current.json, so each new version has a new inode even within one clock tick.
        try:
            stat = self._pointer.stat()
        except OSError:
            return None
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen != self._seen or fresh:
            try:
                self._head = json.loads(self._pointer.read_text())
            except (OSError, ValueError):
                return self._head
            self._seen = seen
        return self._head

    def read(self, head: dict[str, Any]) -> bytes | None:
        try:
            return (self.folder / head["file"]).read_bytes()
        except (OSError, KeyError):
            return None

    def publish(self, base: int, data: bytes, facts: dict[str, Any]) -> dict[str, Any] | None:
        """Write version base + 1, unless another writer already moved past `base` (then None)."""
        current = self.head(fresh=True)
        if int((current or {}).get("version", -1)) != base:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        version = base + 1
        name = f"q-v{version:05d}.bin"
        temporary = self.folder / (name + ".tmp")
        temporary.write_bytes(data)
        temporary.replace(self.folder / name)
        head = {**facts, "version": version, "file": name}
        pointer = self._pointer.with_suffix(".tmp")
        pointer.write_text(json.dumps(head, indent=2))
        pointer.replace(self._pointer)  # atomic: readers see the old version or the new one
        for old in sorted(self.folder.glob("q-v*.bin"))[:-KEEP_VERSIONS]:
            old.unlink(missing_ok=True)
        with (self.folder / "history.jsonl").open("a") as log:  # one line per version, kept past the pruning
            log.write(json.dumps({k: head[k] for k in HISTORY_FACTS if k in head}) + "\n")
        return self.head(fresh=True)

    def history(self, limit: int = 20) -> list[dict[str, Any]]:
        """The facts of the latest `limit` versions, newest first."""
        try:
            lines = (self.folder / "history.jsonl").read_text().splitlines()
        except OSError:
            return []
        found = []
        for line in reversed(lines):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue  # a line cut by a crash mid-write
            if len(found) == limit:
                break
        return found


class ChromaVersions:
    """Versions in a Chroma collection shared by every client of the bank.

    A version is a head record `q-vNNNNNNNN` (its facts, the writer's token, how many parts) and its
    parts (the model's bytes in base64). Clients look for a newer head at most every `refresh_s`.
    """

    def __init__(self, collection: Any, where: str, refresh_s: float = 2.0) -> None:
        self.collection = collection
        self.where = f"{where} (collection {collection.name})"
        self.refresh_s = refresh_s
        self._head: dict[str, Any] | None = None
        self._checked = -float("inf")

    def head(self, fresh: bool = False) -> dict[str, Any] | None:
        now = time.monotonic()
        if fresh or now - self._checked >= self.refresh_s:
            got = self.collection.get(where={"kind": "head"}, include=["metadatas"])
            heads = [m for m in got["metadatas"] if m]
            self._head = max(heads, key=lambda m: int(m["version"])) if heads else None
            self._checked = now
        return self._head

    def history(self, limit: int = 20) -> list[dict[str, Any]]:
        """The facts of the kept versions (the last KEEP_VERSIONS), newest first."""
        got = self.collection.get(where={"kind": "head"}, include=["metadatas"])
        heads = sorted((m for m in got["metadatas"] if m), key=lambda m: int(m["version"]), reverse=True)
        return [{k: m[k] for k in HISTORY_FACTS if k in m} for m in heads[:limit]]

    def read(self, head: dict[str, Any]) -> bytes | None:
        got = self.collection.get(where={"token": head["token"]}, include=["documents", "metadatas"])
        parts = sorted((m["index"], d) for m, d in zip(got["metadatas"], got["documents"]) if m.get("kind") == "part")
        if len(parts) != int(head["parts"]):
            return None  # pruned (or a loser's leftovers cleaned) in between: the caller looks again
        return base64.b64decode("".join(text for _, text in parts))

    def publish(self, base: int, data: bytes, facts: dict[str, Any]) -> dict[str, Any] | None:
        """Claim version base + 1; None when another client claimed it first (nothing of ours stays)."""
        version, token = base + 1, uuid.uuid4().hex
        text = base64.b64encode(data).decode("ascii")
        parts = [text[i : i + _PART_CHARS] for i in range(0, len(text), _PART_CHARS)] or [""]
        prefix = f"q-v{version:08d}"
        for index, part in enumerate(parts):  # parts first: a head never names parts not yet written
            self.collection.add(
                ids=[f"{prefix}.{token}.{index}"],
                embeddings=[[1.0]],
                documents=[part],
                metadatas=[{"kind": "part", "version": version, "token": token, "index": index}],
            )
        head = {k: v for k, v in facts.items() if isinstance(v, _FACTS)}
        head |= {"kind": "head", "version": version, "token": token, "parts": len(parts)}
        self.collection.add(ids=[prefix], embeddings=[[1.0]], documents=["head"], metadatas=[head])
        claimed = self.collection.get(ids=[prefix], include=["metadatas"])["metadatas"]
        if not claimed or claimed[0].get("token") != token:
            self.collection.delete(where={"token": token})
            return None
        self._head, self._checked = head, time.monotonic()
        old = version - KEEP_VERSIONS
        if old >= 0:
            self.collection.delete(where={"version": {"$lte": old}})
        return head
