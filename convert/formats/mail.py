"""E-mail: RFC 822 `.eml` files (stdlib `email`) and Outlook `.msg` files (OLE2 streams, read with olefile).

A message reads as its headers, its attachment list and its body (an HTML body
as Markdown). An attachment is read as `mail.eml!report.pdf`, like a zip
member: `read_member` finds it here, in the conversion worker. Attachment names
come from the sender, so each is made safe before it is shown or matched: no
folders, no control characters, no `!`, bounded length, unique. Nothing is
written to disk.
"""

from __future__ import annotations

import email
import email.policy
import struct
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage, Message
from typing import Any

from memento.core.errors import ConversionFailed, NotFound, TooLarge
from memento.core.quoting import shown

from ..charsets import decode_body
from ..model import Document, Section
from .base import Blob, ConvertOptions
from .markup import html_to_markdown
from .tables import markdown_table

FORMATS = ("eml", "msg")

_MAX_NAME = 120  # characters of an attachment name kept
_MAX_HEADER = 2000  # characters of one header value kept
_MAX_DEPTH = 20  # multipart nesting followed


@dataclass
class Attachment:
    name: str  # made safe and unique: the name `mail.eml!NAME` matches
    content_type: str
    data: bytes


@dataclass
class Mail:
    headers: dict[str, str]  # From, To, Cc, Date, Subject… as shown
    text_body: str = ""
    html_body: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def convert(blob: Blob, options: ConvertOptions) -> Document:
    mail = parse(blob.data, blob.format, blob.name or "the message")
    metadata: dict[str, Any] = {key.lower().replace("-", "_"): value for key, value in mail.headers.items()}
    if "subject" in metadata:
        metadata["title"] = metadata.pop("subject")
    metadata["attachments"] = len(mail.attachments)
    if options.metadata_only:
        return Document(blob.format, [], metadata, mail.notes)
    return Document(blob.format, [Section(_render(mail, blob.name or f"message.{blob.format}", options))], metadata, mail.notes)


def read_attachment(data: bytes, mail_name: str, member: str, options: ConvertOptions, fmt: str) -> tuple[bytes, str]:
    """The bytes and safe name of the attachment called `member` (that name, or its number in the list)."""
    mail = parse(data, fmt, mail_name)
    found = next((a for a in mail.attachments if a.name == member), None)
    found = found or next((a for a in mail.attachments if a.name.lower() == member.lower()), None)
    if found is None and member.isdigit() and 1 <= int(member) <= len(mail.attachments):
        found = mail.attachments[int(member) - 1]
    if found is None:
        names = ", ".join(repr(a.name) for a in mail.attachments[:20]) or "none"
        raise NotFound(f"{mail_name} has no attachment {shown(member)!r}. Its attachments: {names}.")
    if len(found.data) > options.member_max_bytes:
        raise TooLarge(f"{found.name!r} is {len(found.data):,} bytes, over the {options.member_max_bytes:,}-byte limit.")
    return found.data, found.name


def parse(data: bytes, fmt: str, name: str) -> Mail:
    return _parse_msg(data, name) if fmt == "msg" else _parse_eml(data)


def _render(mail: Mail, name: str, options: ConvertOptions) -> str:
    subject = mail.headers.get("Subject", "")
    lines = [f"# {_one_line(subject) or '(no subject)'}", ""]
    lines += [f"- **{key}:** {value}" for key, value in mail.headers.items() if key != "Subject"]
    if mail.attachments:
        rows = [["#", "attachment", "type", "size (bytes)"]]
        rows += [[str(n), a.name, a.content_type, f"{len(a.data):,}"] for n, a in enumerate(mail.attachments, start=1)]
        first = mail.attachments[0].name
        lines += ["", f"## Attachments ({len(mail.attachments)})", "", markdown_table(rows, options.max_rows), ""]
        lines.append(f'Read one with `read_document("{name}!{first}")` (the name as listed, or its number).')
    lines += ["", "## Body", ""]
    if mail.html_body.strip():
        lines.append(html_to_markdown(mail.html_body) or "(empty)")
    else:
        lines.append(mail.text_body.strip() or "(empty)")
    return "\n".join(lines)


def safe_name(raw: str | None, number: int, taken: set[str], extension: str = "") -> str:
    """A sender's attachment name made harmless: the last path part, printable, no `!`, bounded, unique."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # NUL, controls, bidi overrides
    name = " ".join(name.replace("!", "_").split()).strip(" .")
    if not name:
        name = f"attachment-{number}{extension}"
    if len(name) > _MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot and stem else ""
        name = name[: _MAX_NAME - len(ext) - 1].rstrip(" .") + ("." + ext if ext else "")
    unique, copy = name, 2
    while unique.lower() in taken:
        stem, dot, ext = name.rpartition(".")
        unique = f"{stem} ({copy}).{ext}" if dot and stem else f"{name} ({copy})"
        copy += 1
    taken.add(unique.lower())
    return unique


def _one_line(value: str) -> str:
    text = " ".join("".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in value).split())
    return text if len(text) <= _MAX_HEADER else text[: _MAX_HEADER - 1] + "…"


# --------------------------------------------------------------------------- .eml


def _parse_eml(data: bytes) -> Mail:
    message = email.message_from_bytes(data, policy=email.policy.default)
    mail = Mail(_eml_headers(message))
    taken: set[str] = set()
    for part in _leaves(message, 0):
        disposition = (part.get_content_disposition() or "").lower()
        kind = part.get_content_type()
        filename = _safely(part.get_filename)
        is_body = disposition != "attachment" and not filename and kind in ("text/plain", "text/html")
        if is_body and kind == "text/plain" and not mail.text_body:
            mail.text_body = _part_text(part)
        elif is_body and kind == "text/html" and not mail.html_body:
            mail.html_body = _part_text(part)
        else:
            extension = ".eml" if part.get_content_maintype() == "message" else ""
            if extension and not filename:  # a forwarded message is named by its subject
                subject = _attached_subject(part)
                filename = f"{subject}.eml" if subject else ""
            number = len(mail.attachments) + 1
            mail.attachments.append(Attachment(safe_name(filename, number, taken, extension), kind, _part_bytes(part)))
    if message.defects:
        mail.notes.append(f"the message is malformed ({type(message.defects[0]).__name__}); read leniently.")
    return mail


def _attached_subject(part: Message) -> str:
    inner = part.get_payload()
    inner = inner[0] if isinstance(inner, list) and inner else inner
    if not isinstance(inner, Message):
        return ""
    return _safely(lambda: inner.get("Subject"))


def _leaves(message: Message, depth: int) -> list[Message]:
    """The non-multipart parts in order; an attached message (message/rfc822) is one leaf, not opened."""
    if message.get_content_maintype() != "multipart":
        return [message]
    payload = message.get_payload()
    if depth >= _MAX_DEPTH or not isinstance(payload, list):
        return []
    return [leaf for part in payload if isinstance(part, Message) for leaf in _leaves(part, depth + 1)]


def _eml_headers(message: Message) -> dict[str, str]:
    headers = {}
    for key in ("Subject", "From", "To", "Cc", "Date", "Reply-To", "Message-ID"):
        value = _safely(lambda key=key: message.get(key))  # type: ignore[misc]
        if value:
            headers[key] = _one_line(value)
    return headers


def _safely(read: Callable[[], Any]) -> str:
    """A header or file name read through the modern policy, or "" when its value does not parse."""
    try:
        value = read()
    except Exception:  # a malformed header: the policy's parser can raise many kinds of errors
        return ""
    return "" if value is None else str(value)


def _part_text(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except (LookupError, ValueError, AssertionError):  # an unknown charset or a broken transfer encoding
        pass
    return decode_body(_part_bytes(part))[0]


def _part_bytes(part: Message) -> bytes:
    if part.get_content_maintype() == "message":
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if isinstance(inner, Message):
            try:
                return inner.as_bytes()
            except Exception:  # a message too malformed to serialise again: its text is what is left
                return str(inner).encode("utf-8", errors="replace")
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


# --------------------------------------------------------------------------- .msg

_PT_STRING8, _PT_UNICODE, _PT_BINARY, _PT_SYSTIME = 0x001E, 0x001F, 0x0102, 0x0040
_RECIPIENT_KINDS = {1: "To", 2: "Cc", 3: "Bcc"}


def _parse_msg(data: bytes, name: str) -> Mail:
    import olefile

    try:
        ole = olefile.OleFileIO(data)
    except Exception as exc:  # olefile raises plain OSError/struct errors on damaged files
        raise ConversionFailed(f"{name} is not a readable Outlook message ({type(exc).__name__}: {exc}).") from exc
    try:
        return _msg_storage(ole, [], 0)
    finally:
        ole.close()


def _msg_storage(ole: Any, prefix: list[str], depth: int) -> Mail:
    """The message stored at `prefix` (the root, or an attached message's storage)."""

    def text(prop: int, where: list[str] = prefix) -> str:
        for kind in (_PT_UNICODE, _PT_STRING8):
            raw = _stream(ole, [*where, f"__substg1.0_{prop:04X}{kind:04X}"])
            if raw is not None:
                value = raw.decode("utf-16-le", errors="replace") if kind == _PT_UNICODE else decode_body(raw)[0]
                return value.rstrip("\x00")
        return ""

    headers: dict[str, str] = {}
    subject = text(0x0037)
    if subject:
        headers["Subject"] = _one_line(subject)
    sender, address = text(0x0C1A), text(0x5D01) or text(0x0C1F)
    if sender or address:
        headers["From"] = _one_line(f"{sender} <{address}>" if sender and address and "@" in address else sender or address)
    recipients = _msg_recipients(ole, prefix, text)
    for field_name, display in (("To", 0x0E04), ("Cc", 0x0E03)):
        value = recipients.get(field_name) or text(display)
        if value:
            headers[field_name] = _one_line(value)
    sent = _msg_time(ole, prefix, 0x0039) or _msg_time(ole, prefix, 0x0E06)
    if sent:
        headers["Date"] = sent
    message_id = text(0x1035)
    if message_id:
        headers["Message-ID"] = _one_line(message_id)
    mail = Mail(headers, text_body=text(0x1000))
    html = _stream(ole, [*prefix, "__substg1.0_10130102"])
    mail.html_body = decode_body(html)[0] if html else text(0x1013)
    if not mail.text_body and not mail.html_body and _stream(ole, [*prefix, "__substg1.0_10090102"]) is not None:
        mail.notes.append("the body is stored only as compressed RTF, which is not read; the attachments are listed.")
    taken: set[str] = set()
    for number, storage in enumerate(_children(ole, prefix, "__attach_version1.0_#"), start=1):
        where = [*prefix, storage]
        kind = text(0x370E, where) or "application/octet-stream"
        raw_name = text(0x3707, where) or text(0x3704, where) or text(0x3001, where)
        data = _stream(ole, [*where, "__substg1.0_37010102"])
        extension = ""
        if data is None and ole.exists("/".join([*where, "__substg1.0_3701000D"])) and depth < _MAX_DEPTH:
            inner = _msg_storage(ole, [*where, "__substg1.0_3701000D"], depth + 1)
            data, kind, extension = _as_eml(inner), "message/rfc822", ".eml"
            raw_name = raw_name or inner.headers.get("Subject", "")
            if raw_name and not raw_name.lower().endswith(".eml"):
                raw_name += ".eml"
        mail.attachments.append(Attachment(safe_name(raw_name, number, taken, extension), kind, data or b""))
    return mail


def _stream(ole: Any, path: list[str]) -> bytes | None:
    joined = "/".join(path)
    if not ole.exists(joined) or ole.get_type(joined) != 2:  # 2: STGTY_STREAM
        return None
    data: bytes = ole.openstream(joined).read()
    return data


def _children(ole: Any, prefix: list[str], start: str) -> list[str]:
    """The storages directly under `prefix` whose names begin with `start`, in order."""
    names = {
        entry[len(prefix)]
        for entry in ole.listdir(streams=True, storages=True)
        if len(entry) > len(prefix) and entry[: len(prefix)] == prefix
    }
    return sorted(n for n in names if n.startswith(start))


def _msg_recipients(ole: Any, prefix: list[str], text: Any) -> dict[str, str]:
    by_kind: dict[str, list[str]] = {}
    for storage in _children(ole, prefix, "__recip_version1.0_#"):
        where = [*prefix, storage]
        display, address = text(0x3001, where), text(0x39FE, where) or text(0x3003, where)
        kind = _RECIPIENT_KINDS.get(_fixed_property(ole, where, 0x0C15, 8) or 1, "To")
        shown_as = f"{display} <{address}>" if display and "@" in address and address != display else display or address
        if shown_as:
            by_kind.setdefault(kind, []).append(shown_as)
    return {kind: ", ".join(names) for kind, names in by_kind.items()}


def _msg_time(ole: Any, prefix: list[str], prop: int) -> str:
    header = 32 if not prefix else 24  # the root's property table has a longer header than an attached message's
    value = _fixed_property(ole, prefix, prop, header)
    if not value:
        return ""
    try:
        moment = datetime(1601, 1, 1, tzinfo=UTC) + timedelta(microseconds=value // 10)
    except OverflowError:
        return ""
    return moment.strftime("%a, %d %b %Y %H:%M:%S +0000")


def _fixed_property(ole: Any, prefix: list[str], prop: int, header: int) -> int | None:
    """A fixed-size property (an integer or a time) from a storage's `__properties_version1.0` table."""
    table = _stream(ole, [*prefix, "__properties_version1.0"])
    if not table:
        return None
    for offset in range(header, len(table) - 15, 16):
        tag, _flags, value = struct.unpack_from("<IIQ", table, offset)
        if tag >> 16 == prop:
            return value if (tag & 0xFFFF) == _PT_SYSTIME else value & 0xFFFFFFFF
    return None


def _as_eml(mail: Mail) -> bytes:
    """An attached Outlook message as an .eml, so it reads (and its own attachments open) like any mail."""
    message = EmailMessage(policy=email.policy.default.clone(raise_on_defect=False))
    for key, value in mail.headers.items():
        try:
            message[key] = value
        except (ValueError, TypeError):  # a value the modern policy will not accept as an address or date
            message[f"X-Original-{key}"] = value.encode("ascii", "replace").decode()
    if mail.html_body:
        message.set_content(mail.html_body, subtype="html")
    else:
        message.set_content(mail.text_body or "")
    for attachment in mail.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        if maintype == "message" or not subtype:
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.name)
    return message.as_bytes()
