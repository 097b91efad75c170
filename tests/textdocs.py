"""Test documents in text formats (CSV/TSV, HTML, JSON, XML, YAML, text, code) and odd files (garbage, sparse).

Each make_* function writes one file into a directory and returns its Path; contents carry known
marker tokens. The binary formats (PDF, Office, images, e-books, archives) are in `tests/docgen.py`,
which re-exports these so tests reach every generator as `docgen.make_*`.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

# Leading byte sequences of common file formats; make_garbage avoids all of them.
_COMMON_MAGIC = [
    b"%PDF",
    b"PK",
    b"\x89PNG",
    b"\xff\xd8",
    b"GIF8",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"\xd0\xcf\x11\xe0",
    b"\x1f\x8b",
    b"\x1f\x9d",
    b"BZh",
    b"7z\xbc\xaf",
    b"Rar!",
    b"\xfd7zXZ",
    b"\x28\xb5\x2f\xfd",
    b"\x04\x22\x4d\x18",
    b"\x7fELF",
    b"MZ",
    b"\xca\xfe\xba\xbe",
    b"\xfe\xed\xfa",
    b"\xcf\xfa\xed\xfe",
    b"RIFF",
    b"OggS",
    b"fLaC",
    b"ID3",
    b"\xff\xfb",
    b"\xff\xf3",
    b"\xff\xf2",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"{\\rtf",
    b"<?xml",
    b"<!DOCTYPE",
    b"<html",
    b"\x00\x01\x00\x00",
    b"\x00\x00\x01\x00",
    b"OTTO",
    b"wOFF",
    b"wOF2",
    b"\x1a\x45\xdf\xa3",
    b"SQLite",
    b"8BPS",
    b"\x00asm",
    b"%!PS",
    b"AT&TFORM",
    b"FORM",
    b"\x00\x00\x00",
]


# --------------------------------------------------------------------------- tabular text


def _write_delimited(path: Path, header: list[str], rows: list[list], delimiter: str) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def make_csv(dir: Path, name: str = "data.csv", rows: int = 10) -> Path:
    data = [[i, "csv-cell-token" if i == 1 else f"item {i}", i * 3] for i in range(1, rows + 1)]
    return _write_delimited(Path(dir) / name, ["id", "name", "value"], data, ",")


def make_tsv(dir: Path, name: str = "data.tsv", rows: int = 5) -> Path:
    data = [[i, "tsv-cell-token" if i == 1 else f"item {i}", i * 7] for i in range(1, rows + 1)]
    return _write_delimited(Path(dir) / name, ["id", "name", "value"], data, "\t")


def make_big_csv(dir: Path, rows: int = 5000, name: str = "big.csv") -> Path:
    """First data row contains 'bigcsv-first-token', last row 'bigcsv-last-token'."""
    data = []
    for i in range(1, rows + 1):
        label = f"row {i}"
        if i == 1:
            label = "bigcsv-first-token"
        elif i == rows:
            label = "bigcsv-last-token"
        data.append([i, label, (i * 37) % 1000, f"{i * 0.01:.2f}"])
    return _write_delimited(Path(dir) / name, ["id", "label", "count", "ratio"], data, ",")


# --------------------------------------------------------------------------- markup / structured text


def make_html(dir: Path, name: str = "page.html") -> Path:
    path = Path(dir) / name
    path.write_text(
        """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>HTML Title</title>
  <style>.style-should-not-appear { color: red; }</style>
  <script>console.log("script-should-not-appear");</script>
</head>
<body>
  <h1>Main Heading</h1>
  <p>This paragraph has the html-body-token marker and a <a href="https://example.com/">link</a>.</p>
  <table>
    <tr><th>Key</th><th>Value</th></tr>
    <tr><td>html-table-token</td><td>99</td></tr>
  </table>
  <ul>
    <li>First list item</li>
    <li>Second list item</li>
  </ul>
</body>
</html>
""",
        encoding="utf-8",
    )
    return path


def make_json(dir: Path, name: str = "data.json") -> Path:
    path = Path(dir) / name
    obj = {
        "title": "json-token",
        "version": 2,
        "items": [{"id": 1, "name": "alpha"}, {"id": 2, "name": "beta"}],
        "nested": {"enabled": True, "ratio": 0.5},
    }
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    return path


def make_jsonl(dir: Path, name: str = "data.jsonl") -> Path:
    path = Path(dir) / name
    lines = [
        {"line": 1, "marker": "jsonl-token", "value": 10},
        {"line": 2, "marker": "second", "value": 20},
        {"line": 3, "marker": "third", "value": 30},
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def make_xml(dir: Path, name: str = "data.xml") -> Path:
    path = Path(dir) / name
    path.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<catalog>
  <item id="1"><name>xml-token</name><price>9.99</price></item>
  <item id="2"><name>Second item</name><price>4.50</price></item>
</catalog>
""",
        encoding="utf-8",
    )
    return path


def make_yaml(dir: Path, name: str = "config.yaml") -> Path:
    path = Path(dir) / name
    path.write_text(
        """title: yaml-token
version: 3
servers:
  - name: alpha
    port: 8080
  - name: beta
    port: 8081
options:
  debug: false
""",
        encoding="utf-8",
    )
    return path


def make_text(dir: Path, name: str = "notes.txt") -> Path:
    path = Path(dir) / name
    path.write_text(
        "Meeting notes\n\nThe text-token marker is on this line.\nAction items follow below.\n",
        encoding="utf-8",
    )
    return path


def make_markdown(dir: Path, name: str = "readme.md") -> Path:
    path = Path(dir) / name
    path.write_text(
        "# Heading\n\nThis readme contains the md-token marker.\n\n- item one\n- item two\n",
        encoding="utf-8",
    )
    return path


def make_code(dir: Path, name: str = "script.py") -> Path:
    path = Path(dir) / name
    path.write_text(
        '"""Example script."""\n\n\ndef code_token():\n    return 42\n\n\nif __name__ == "__main__":\n    print(code_token())\n',
        encoding="utf-8",
    )
    return path


def make_latin1_text(dir: Path, name: str = "latin1.txt") -> Path:
    """cp1252-encoded text (only characters shared with latin-1); not valid UTF-8."""
    path = Path(dir) / name
    text = "Un café déjà vu, naïve façade.\nlatin1-token on the second line.\n"
    path.write_bytes(text.encode("cp1252"))
    return path


# --------------------------------------------------------------------------- odd files


def make_garbage(dir: Path, name: str = "blob.bin", size: int = 4096) -> Path:
    """Seeded random bytes whose start matches no common magic number."""
    path = Path(dir) / name
    seed = 1234
    while True:
        data = random.Random(seed).randbytes(size)
        if not any(data.startswith(m) for m in _COMMON_MAGIC) and data[4:8] != b"ftyp":
            break
        seed += 1
    path.write_bytes(data)
    return path


def make_sparse_file(dir: Path, name: str = "huge.txt", size: int = 1024**3) -> Path:
    path = Path(dir) / name
    with path.open("wb") as fh:
        if size > 0:
            fh.seek(size - 1)
            fh.write(b"\0")
    return path
