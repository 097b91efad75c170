"""E-mail (.eml, Outlook .msg), RSS/Atom feeds and Jupyter notebooks, read over MCP stdio and streamable HTTP.

Every file is made here: mails with the stdlib, .msg files with tests/cfbwriter.py,
feeds and notebooks as text. Hostile inputs (a sender's attachment names, a
billion-laughs feed) must come back safe or refused, with the server alive.
"""

from __future__ import annotations

import base64
import io
import json
import struct
from email.message import EmailMessage
from pathlib import Path

import pytest
from PIL import Image

from memento.convert.detect import detect_format
from memento.convert.formats import Blob, ConvertOptions, convert, convert_member
from memento.convert.formats.mail import safe_name
from memento.servers.common.errors import InvalidInput, NotFound
from tests import docgen
from tests.cfbwriter import compound_file
from tests.mcp_servers import http_client_for, stdio_client_for

# --------------------------------------------------------------------------- files


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


def _property_table(header: int, entries: list[tuple[int, int, int]]) -> bytes:
    table = b"\0" * header
    for prop, kind, value in entries:
        table += struct.pack("<IIQ", (prop << 16) | kind, 6, value)
    return table


_JAN_2024 = (1704067200 + 11644473600) * 10_000_000  # 2024-01-01 00:00 UTC as a Windows FILETIME


def outlook_message(attachments: dict[str, bytes], *, subject: str = "Quarterly numbers msg-subject-token") -> bytes:
    """An Outlook .msg with a plain body, one recipient and `attachments` (raw names as the sender chose them)."""
    streams = {
        "__substg1.0_0037001F": _utf16(subject),
        "__substg1.0_0C1A001F": _utf16("Ada Lovelace"),
        "__substg1.0_5D01001F": _utf16("ada@example.org"),
        "__substg1.0_1000001F": _utf16("Dear Grace,\r\nthe figures are attached. msg-body-token\r\n"),
        "__properties_version1.0": _property_table(32, [(0x0039, 0x0040, _JAN_2024)]),
        "__recip_version1.0_#00000000/__substg1.0_3001001F": _utf16("Grace Hopper"),
        "__recip_version1.0_#00000000/__substg1.0_39FE001F": _utf16("grace@example.org"),
        "__recip_version1.0_#00000000/__properties_version1.0": _property_table(8, [(0x0C15, 0x0003, 1)]),
    }
    for number, (name, data) in enumerate(attachments.items()):
        storage = f"__attach_version1.0_#{number:08X}"
        streams[f"{storage}/__substg1.0_3707001F"] = _utf16(name)
        streams[f"{storage}/__substg1.0_37010102"] = data
    return compound_file(streams)


def mail_with_attachments(pdf: bytes) -> bytes:
    message = EmailMessage()
    message["From"] = "Ada Lovelace <ada@example.org>"
    message["To"] = "grace@example.org"
    message["Subject"] = "Report eml-subject-token"
    message["Date"] = "Tue, 02 Jan 2024 03:04:05 +0000"
    message.set_content("plain eml-plain-token")
    message.add_alternative(
        "<html><body><p>eml-html-token with <b>bold</b> and <a href='https://example.org/x'>a link</a></p></body></html>", subtype="html"
    )
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename="report.pdf")
    forwarded = EmailMessage()
    forwarded["From"] = "someone@example.org"
    forwarded["Subject"] = "Forwarded note"
    forwarded.set_content("forwarded-body-token")
    message.add_attachment(forwarded)
    return message.as_bytes()


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
<title>River News rss-title-token</title><link>https://example.org/</link>
<description>News about &lt;b&gt;rivers&lt;/b&gt;</description>
<item><title>Flood warning rss-item1-token</title><link>https://example.org/1</link>
<pubDate>Tue, 02 Jan 2024 03:04:05 GMT</pubDate>
<description>&lt;p&gt;The river &lt;a href="https://example.org/r"&gt;rose&lt;/a&gt; rss-summary-token&lt;/p&gt;</description></item>
<item><title>Bridge reopened rss-item2-token</title><link>https://example.org/2</link><description>plain text</description></item>
</channel></rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>Harbour log</title><updated>2024-01-03T00:00:00Z</updated><id>urn:x</id>
<entry><title>Ship arrived atom-entry-token</title><link href="https://example.org/a"/><id>urn:a</id>
<updated>2024-01-03T10:00:00Z</updated>
<content type="html">&lt;h2&gt;Cargo&lt;/h2&gt;&lt;ul&gt;&lt;li&gt;atom-content-token&lt;/li&gt;&lt;/ul&gt;</content></entry>
</feed>
"""

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE rss [\n <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">\n' for n in range(1, 10))
    + ']>\n<rss version="2.0"><channel><title>&lol9;</title><item><title>x</title></item></channel></rss>\n'
)


def notebook() -> bytes:
    picture = io.BytesIO()
    Image.new("RGB", (60, 40), "green").save(picture, "PNG")
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Analysis nb-md-token\n", "Reading the *figures*."]},
        {
            "cell_type": "code",
            "execution_count": 3,
            "metadata": {},
            "source": "print('nb-code-token')\n6 * 7",
            "outputs": [
                {"output_type": "stream", "name": "stdout", "text": ["nb-stream-token\n"]},
                {"output_type": "execute_result", "execution_count": 3, "metadata": {}, "data": {"text/plain": ["42"]}},
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"image/png": base64.b64encode(picture.getvalue()).decode(), "text/plain": ["<Figure>"]},
                },
                {"output_type": "error", "ename": "ValueError", "evalue": "x", "traceback": ["\x1b[31mValueError\x1b[0m: nb-error-token"]},
            ],
        },
    ]
    meta = {"kernelspec": {"name": "ir", "display_name": "R", "language": "R"}}
    return json.dumps({"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}, indent=1).encode()


HOSTILE_NAMES = {
    "../../../etc/passwd": b"traversal-token",
    "C:\\Windows\\system32\\evil.dll": b"backslash-token",
    "..": b"dots-token",
    "nul\x00byte.txt": b"nul-token",
    "x" * 5000 + ".pdf": b"long-token",
    "invoice\u202egpj.exe": b"bidi-token",
    "a.zip!b.txt": b"bang-token",
    "same.txt": b"first-same-token",
    "SAME.txt": b"second-same-token",
}


@pytest.fixture(scope="module")
def mails(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mail")
    pdf = docgen.make_pdf(folder).read_bytes()
    (folder / "mail.eml").write_bytes(mail_with_attachments(pdf))
    (folder / "outlook.msg").write_bytes(outlook_message({"notes.txt": b"msg-attachment-token\n", "report.pdf": pdf}))
    (folder / "hostile.msg").write_bytes(outlook_message(HOSTILE_NAMES, subject="hostile"))
    (folder / "news.rss").write_text(RSS)
    (folder / "atom.xml").write_text(ATOM)
    (folder / "lol.rss").write_text(BILLION_LAUGHS)
    (folder / "analysis.ipynb").write_bytes(notebook())
    docgen.make_text(folder)
    return folder


# --------------------------------------------------------------------------- over MCP

# (source, format, must appear, must not appear)
VECTORS = [
    (
        "mail.eml",
        "eml",
        [
            "# Report eml-subject-token",
            "**From:** Ada Lovelace <ada@example.org>",
            "eml-html-token with **bold**",
            "[a link](https://example.org/x)",
            "| 1 | report.pdf | application/pdf |",
            "Forwarded note.eml",
        ],
        ["Content-Transfer-Encoding", "base64", "eml-plain-token"],
    ),
    ("mail.eml!report.pdf", "pdf", ["pdf-page-1-token", "<!-- page 2 of 3 -->"], []),
    ("mail.eml!Forwarded note.eml", "eml", ["# Forwarded note", "forwarded-body-token"], []),
    (
        "outlook.msg",
        "msg",
        [
            "# Quarterly numbers msg-subject-token",
            "Ada Lovelace <ada@example.org>",
            "Grace Hopper <grace@example.org>",
            "Mon, 01 Jan 2024",
            "msg-body-token",
            "| 1 | notes.txt |",
            "| 2 | report.pdf |",
        ],
        ["legacy"],
    ),
    ("outlook.msg!notes.txt", "text", ["msg-attachment-token"], []),
    ("outlook.msg!2", "pdf", ["pdf-page-3-token"], []),
    (
        "news.rss",
        "feed",
        [
            "# River News rss-title-token",
            "## 1. Flood warning rss-item1-token",
            "2024-01-02 03:04 UTC",
            "[rose](https://example.org/r)",
            "## 2. Bridge reopened",
        ],
        ["<rss", "&lt;", "<item>"],
    ),
    (
        "atom.xml",
        "feed",
        ["# Harbour log", "## 1. Ship arrived atom-entry-token", "https://example.org/a", "## Cargo", "- atom-content-token"],
        ["<feed", "<entry>"],
    ),
    (
        "analysis.ipynb",
        "notebook",
        [
            "# Analysis nb-md-token",
            "```r\nprint('nb-code-token')",
            "```output (stdout)\nnb-stream-token",
            "```output\n42",
            "<!-- image 1:",
            "ValueError: nb-error-token",
        ],
        ["\x1b[", '"cell_type"', "iVBOR"],
    ),
]


@pytest.fixture(params=["stdio", "http"])
async def client(request, mails: Path):
    opener = stdio_client_for if request.param == "stdio" else http_client_for
    async with opener("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(mails)}, cwd=mails) as connected:
        yield connected


async def _read(client, source: str, **extra):
    result = await client.call_tool("read_document", {"source": source, "max_length": 1_000_000, **extra})
    assert not result.is_error, result.content[0].text
    return result


@pytest.mark.anyio
@pytest.mark.integration
async def test_mail_feeds_and_notebooks_read_as_markdown_over_mcp(client) -> None:
    failures = []
    for source, fmt, must, must_not in VECTORS:
        result = await _read(client, source)
        text = result.content[0].text
        if result.structured_content["format"] != fmt:
            failures.append(f"{source}: detected {result.structured_content['format']}, expected {fmt}")
        failures += [f"{source}: missing {m!r}" for m in must if m not in text]
        failures += [f"{source}: should not contain {m!r}" for m in must_not if m in text]
    assert not failures, "\n".join(failures)


@pytest.mark.anyio
@pytest.mark.integration
async def test_a_notebook_output_image_comes_back_as_image_content(client) -> None:
    result = await _read(client, "analysis.ipynb")
    images = [c for c in result.content if c.type == "image"]
    assert len(images) == 1 and images[0].mime_type == "image/png"
    with Image.open(io.BytesIO(base64.b64decode(images[0].data))) as shown:
        assert shown.size == (60, 40) and shown.getpixel((5, 5))[:3] == (0, 128, 0)
    assert result.structured_content["images"] == 1


@pytest.mark.anyio
@pytest.mark.integration
async def test_feed_items_and_notebook_cells_are_selectable_like_pages(client) -> None:
    text = (await _read(client, "news.rss", pages="2")).content[0].text
    assert "rss-item2-token" in text and "rss-item1-token" not in text
    text = (await _read(client, "analysis.ipynb", pages="1")).content[0].text
    assert "nb-md-token" in text and "nb-code-token" not in text
    result = await client.call_tool("search_document", {"source": "news.rss", "query": "bridge reopened"})
    assert result.structured_content["passages"][0]["location"].startswith("item 2")


@pytest.mark.anyio
@pytest.mark.integration
async def test_document_info_tells_the_facts_of_mails_feeds_and_notebooks(client) -> None:
    expected = {
        "mail.eml": {"format": "eml", "title": "Report eml-subject-token", "attachments": 2, "to": "grace@example.org"},
        "outlook.msg": {
            "format": "msg",
            "title": "Quarterly numbers msg-subject-token",
            "attachments": 2,
            "date": "Mon, 01 Jan 2024 00:00:00 +0000",
        },
        "news.rss": {"format": "feed", "items": 2, "title": "River News rss-title-token", "feed_version": "rss20"},
        "analysis.ipynb": {"format": "notebook", "cells": 2, "code_cells": 1, "language": "r", "kernel": "R"},
    }
    for source, facts in expected.items():
        result = await client.call_tool("document_info", {"source": source})
        assert not result.is_error, result.content[0].text
        got = result.structured_content["facts"]
        for key, value in facts.items():
            assert got.get(key) == value, f"{source}: {key}={got.get(key)!r}, expected {value!r}"


@pytest.mark.anyio
@pytest.mark.integration
async def test_hostile_attachment_names_are_listed_safe_and_read_by_those_names(mails: Path) -> None:
    async with stdio_client_for("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(mails)}, cwd=mails) as client:
        text = (await _read(client, "hostile.msg")).content[0].text
        rows = [line for line in text.splitlines() if line.startswith("| ") and "|---" not in line][1:]
        names = [row.split(" | ")[1] for row in rows]
        assert len(names) == len(HOSTILE_NAMES)
        for name in names:
            assert "/" not in name and "\\" not in name and "!" not in name and name not in ("", ".", "..")
            assert all(ch.isprintable() for ch in name) and len(name) <= 120
        assert names[0] == "passwd" and names[1] == "evil.dll" and names[3] == "nulbyte.txt"
        assert names[4].endswith(".pdf") and "invoicegpj.exe" in names
        assert names[7:] == ["same.txt", "SAME (2).txt"]
        for number, token in enumerate(HOSTILE_NAMES.values()):
            read = await _read(client, f"hostile.msg!{names[number]}")
            assert token.decode() in read.content[0].text, names[number]
        for raw in ("../../../etc/passwd", "..", "nul\x00byte.txt"):
            result = await client.call_tool("read_document", {"source": f"hostile.msg!{raw}"})
            assert result.is_error and "has no attachment" in result.content[0].text
        assert sorted(p.name for p in mails.iterdir()) == sorted(
            ["analysis.ipynb", "atom.xml", "hostile.msg", "lol.rss", "mail.eml", "news.rss", "notes.txt", "outlook.msg", "report.pdf"]
        )  # nothing was written beside the mail


@pytest.mark.anyio
@pytest.mark.integration
async def test_a_billion_laughs_feed_is_refused_unexpanded_and_the_server_lives_on(mails: Path) -> None:
    env = {"MEMENTO_DOCUMENTS_ROOTS": str(mails), "MEMENTO_DOCUMENTS_MEMORY_LIMIT": "512MiB", "MEMENTO_DOCUMENTS_TIMEOUT_S": "20"}
    async with stdio_client_for("documents", env=env, cwd=mails) as client:
        result = await client.call_tool("read_document", {"source": "lol.rss"})
        assert result.is_error
        assert "declares XML entities" in result.content[0].text and "lollol" not in result.content[0].text
        assert "text-token" in (await _read(client, "notes.txt")).content[0].text


# --------------------------------------------------------------------------- units


def test_feedparser_never_sees_a_feed_that_declares_entities(monkeypatch: pytest.MonkeyPatch) -> None:
    import feedparser

    def refuse(*_args, **_kwargs):
        raise AssertionError("feedparser was called on an entity-declaring feed")

    monkeypatch.setattr(feedparser, "parse", refuse)
    malformed = BILLION_LAUGHS.replace("</rss>", "")  # not well-formed: feedparser's lenient reader would take it
    external = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss><channel><title>&x;</title></channel></rss>'
    )
    for text in (BILLION_LAUGHS, malformed, external):
        with pytest.raises(InvalidInput, match="declares XML entities"):
            convert(Blob(text.encode(), "lol.rss", "feed"), ConvertOptions())


def test_an_outlook_message_is_told_from_other_ole_files_by_its_streams() -> None:
    message = outlook_message({})
    word = compound_file({"WordDocument": b"\0" * 600, "1Table": b"\0" * 100})
    assert detect_format(message[:8192], "mail.doc", data=message) == "msg"
    assert detect_format(message[:8192], "", data=message) == "msg"
    assert detect_format(word[:8192], "old.msg", data=word) == "ole"  # refused as a legacy Office file
    assert detect_format(word[:8192], "book", data=word) == "xls"


def test_mail_detection_does_not_claim_yaml_or_prose() -> None:
    yaml = b"from: 2020\nto: 2024\nsubject: rivers\ndate: today\n"
    prose = b"From: the desk of the editor\nThis memo is about rivers.\n"
    mail = b"Received: from x\n  by y\nFrom: a@b.c\nTo: d@e.f\nSubject: hi\n\nbody\n"
    assert detect_format(yaml, "config.yaml") == "yaml"
    assert detect_format(prose, "memo.txt") == "text"
    assert detect_format(mail, "message") == "eml"
    assert detect_format(b'{"cells": [], "metadata": {}}', "data") == "notebook"
    assert detect_format(b'{"rows": []}', "data.json") == "json"


def test_safe_names_keep_the_extension_and_stay_unique() -> None:
    taken: set[str] = set()
    assert safe_name("../../a/b/report.pdf", 1, taken) == "report.pdf"
    assert safe_name("REPORT.pdf", 2, taken) == "REPORT (2).pdf"
    assert safe_name(" . ", 3, taken, ".eml") == "attachment-3.eml"
    long = safe_name("y" * 1000 + ".xlsx", 4, taken)
    assert len(long) <= 120 and long.endswith(".xlsx")


def test_an_attached_outlook_message_reads_as_a_mail_with_its_own_attachments() -> None:
    inner = {
        "__substg1.0_0037001F": _utf16("Inner subject"),
        "__substg1.0_1000001F": _utf16("inner-body-token"),
        "__properties_version1.0": _property_table(24, []),
        "__attach_version1.0_#00000000/__substg1.0_3707001F": _utf16("deep.txt"),
        "__attach_version1.0_#00000000/__substg1.0_37010102": b"deep-attachment-token",
    }
    streams = {
        "__substg1.0_0037001F": _utf16("Outer"),
        "__properties_version1.0": _property_table(32, []),
        "__attach_version1.0_#00000000/__substg1.0_3001001F": _utf16("Inner subject"),
    }
    streams.update({f"__attach_version1.0_#00000000/__substg1.0_3701000D/{k}": v for k, v in inner.items()})
    data = compound_file(streams)
    options = ConvertOptions()
    outer = convert(Blob(data, "outer.msg", "msg"), options).markdown()
    assert "| 1 | Inner subject.eml | message/rfc822 |" in outer
    nested = convert_member(Blob(data, "outer.msg", "msg"), ("Inner subject.eml",), options)
    assert nested.document.format == "eml" and "inner-body-token" in nested.document.markdown()
    deepest = convert_member(Blob(data, "outer.msg", "msg"), ("Inner subject.eml", "deep.txt"), options)
    assert "deep-attachment-token" in deepest.document.markdown()
    with pytest.raises(NotFound, match="has no attachment"):
        convert_member(Blob(data, "outer.msg", "msg"), ("missing.pdf",), options)
