"""Generators for test documents used to exercise the document-to-Markdown converter.
Each make_* function writes one file into a directory and returns its Path; contents carry known marker tokens.
This module makes the binary formats (PDF, Office, images, e-books, archives); `tests/textdocs.py` the text
formats and odd files, re-exported here."""

from __future__ import annotations

import datetime
import glob
import io
import random
import re
import zipfile
from pathlib import Path

import docx
import openpyxl
import pptx
import pymupdf
import xlwt
from ebooklib import epub
from PIL import Image, ImageDraw, ImageFont
from pptx.util import Inches

from tests.textdocs import (
    make_big_csv as make_big_csv,
)
from tests.textdocs import (
    make_code as make_code,
)

# The text formats and odd files live in tests/textdocs.py; tests reach every generator as docgen.make_*.
from tests.textdocs import (
    make_csv as make_csv,
)
from tests.textdocs import (
    make_garbage as make_garbage,
)
from tests.textdocs import (
    make_html as make_html,
)
from tests.textdocs import (
    make_json as make_json,
)
from tests.textdocs import (
    make_jsonl as make_jsonl,
)
from tests.textdocs import (
    make_latin1_text as make_latin1_text,
)
from tests.textdocs import (
    make_markdown as make_markdown,
)
from tests.textdocs import (
    make_sparse_file as make_sparse_file,
)
from tests.textdocs import (
    make_text as make_text,
)
from tests.textdocs import (
    make_tsv as make_tsv,
)
from tests.textdocs import (
    make_xml as make_xml,
)
from tests.textdocs import (
    make_yaml as make_yaml,
)

# Fixed timestamps so repeated runs produce the same metadata.
FIXED_DATETIME = datetime.datetime(2024, 1, 2, 3, 4, 5)
FIXED_PDF_DATE = "D:20240102030405Z"
FIXED_ZIP_DATE = (2024, 1, 2, 3, 4, 6)

SENTENCES = [
    "The quarterly figures show steady growth across all regions.",
    "Operating costs remained within the forecast range for the period.",
    "The team completed the migration ahead of the planned schedule.",
    "Customer feedback was broadly positive and highlighted faster response times.",
    "Further investment is recommended for the analytics platform next year.",
]

WORDS = (
    "the of and to in a is that for it as was with be by on not he this are or his "
    "from at which but have an they you were her she there been one all we their has "
    "would when if so no what up out more about into than them can only other time new "
    "some could these two may first then do any like my now over such our man me even "
    "most made after also did many before must through years where much your way well "
    "down should because each just those people how too little state good very make "
    "world still own see men work long get here between both life being under never day "
    "same another know while last might us great old year off come since against go came "
    "right used take three report river garden engine letter window harbour market "
    "council journey morning evening winter summer village station library machine"
).split()


# --------------------------------------------------------------------------- helpers


def _find_ttf() -> str | None:
    """Return a TrueType font path from /usr/share/fonts, preferring DejaVuSans."""
    preferred = glob.glob("/usr/share/fonts/**/DejaVuSans.ttf", recursive=True)
    if preferred:
        return sorted(preferred)[0]
    any_ttf = sorted(glob.glob("/usr/share/fonts/**/*.ttf", recursive=True))
    return any_ttf[0] if any_ttf else None


def _load_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    path = _find_ttf()
    if path:
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def _text_image(text: str, width: int = 800, height: int = 200, font_size: int = 96) -> Image.Image:
    """White RGB image with `text` in black, centred and shrunk to fit."""
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    size = font_size
    while True:
        font = _load_font(size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        if ((right - left) <= width * 0.9 and (bottom - top) <= height * 0.8) or size <= 12:
            break
        size -= 4
    x = (width - (right - left)) // 2 - left
    y = (height - (bottom - top)) // 2 - top
    draw.text((x, y), text, fill="black", font=font)
    return img


def _pdf_bytes(pages: int = 3) -> bytes:
    """Bytes of the small multi-page PDF described in make_pdf."""
    doc = pymupdf.open()
    for n in range(1, pages + 1):
        page = doc.new_page()  # A4 portrait
        page.insert_text((72, 72), f"Page {n} marker: pdf-page-{n}-token", fontsize=14)
        body = " ".join(SENTENCES[(n + i) % len(SENTENCES)] for i in range(4))
        page.insert_textbox(pymupdf.Rect(72, 100, 523, 400), body, fontsize=11)
    doc.set_metadata(
        {
            "title": "Quarterly Report",
            "author": "Ada Lovelace",
            "creationDate": FIXED_PDF_DATE,
            "modDate": FIXED_PDF_DATE,
        }
    )
    data = doc.tobytes(garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return data


def _docx_bytes() -> bytes:
    """Bytes of the memo described in make_docx."""
    document = docx.Document()
    document.add_heading("Project Memo", level=1)
    document.add_paragraph("This memo summarises the project status. docx-body-token appears here.")
    document.add_paragraph("docx-list-token", style="List Bullet")
    document.add_paragraph("Second bullet item", style="List Bullet")
    table = document.add_table(rows=2, cols=3)
    cells = [["Name", "Status", "Owner"], ["docx-cell-token", "Active", "Grace"]]
    for r, row in enumerate(cells):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    props = document.core_properties
    props.title = "Project Memo"
    props.author = "Grace Hopper"
    props.created = FIXED_DATETIME
    props.modified = FIXED_DATETIME
    buf = io.BytesIO()
    document.save(buf)
    return _pin_zip_dates(buf.getvalue())


def _zipinfo(name: str, compress_type: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_DATE)
    info.compress_type = compress_type
    info.external_attr = 0o644 << 16
    return info


def _pin_zip_dates(data: bytes) -> bytes:
    """Rewrite an OOXML/EPUB zip with fixed member timestamps and a fixed dcterms:modified."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + FIXED_DATETIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode() + rb"\g<2>",
                    content,
                )
            dst.writestr(_zipinfo(info.filename, info.compress_type), content)
    return buf.getvalue()


def _prose_paragraph(rng: random.Random, min_words: int = 60, max_words: int = 90) -> str:
    words = []
    sentence_len = 0
    target = rng.randint(8, 16)
    for _ in range(rng.randint(min_words, max_words)):
        word = rng.choice(WORDS)
        if sentence_len == 0:
            word = word.capitalize()
        words.append(word)
        sentence_len += 1
        if sentence_len >= target:
            words[-1] += "."
            sentence_len = 0
            target = rng.randint(8, 16)
    if not words[-1].endswith("."):
        words[-1] += "."
    return " ".join(words)


# --------------------------------------------------------------------------- PDF


def make_pdf(dir: Path, pages: int = 3, name: str = "report.pdf") -> Path:
    path = Path(dir) / name
    path.write_bytes(_pdf_bytes(pages))
    return path


def make_long_pdf(dir: Path, pages: int = 100, name: str = "long.pdf") -> Path:
    """~2500 chars of wrapped prose per page; page N contains 'longpdf-page-N'."""
    path = Path(dir) / name
    rng = random.Random(20240102)
    doc = pymupdf.open()
    for n in range(1, pages + 1):
        page = doc.new_page()
        paragraphs = [f"Section {n}. This is longpdf-page-{n} of the long document."]
        while sum(len(p) for p in paragraphs) < 2500:
            paragraphs.append(_prose_paragraph(rng))
        text = "\n\n".join(paragraphs)
        rc = page.insert_textbox(pymupdf.Rect(56, 56, 539, 786), text, fontsize=10)
        if rc < 0:
            raise RuntimeError(f"long pdf page {n} text overflowed the textbox")
    doc.set_metadata({"title": "Long Document", "creationDate": FIXED_PDF_DATE, "modDate": FIXED_PDF_DATE})
    doc.save(path, garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return path


def make_encrypted_pdf(dir: Path, name: str = "secret.pdf") -> Path:
    """AES-256 encrypted; user password 'pw', owner password 'owner-pw'."""
    path = Path(dir) / name
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "Confidential: encrypted-pdf-token", fontsize=14)
    doc.save(
        path,
        encryption=pymupdf.PDF_ENCRYPT_AES_256,
        user_pw="pw",
        owner_pw="owner-pw",
        permissions=pymupdf.PDF_PERM_PRINT | pymupdf.PDF_PERM_COPY,
    )
    doc.close()
    return path


def make_scanned_pdf(dir: Path, name: str = "scan.pdf") -> Path:
    """One page holding only an image of the words 'SCANNED PAGE 7'; no text layer."""
    path = Path(dir) / name
    img = _text_image("SCANNED PAGE 7", width=1200, height=300, font_size=120)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_image(pymupdf.Rect(48, 72, 548, 197), stream=buf.getvalue())
    doc.save(path, garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return path


def make_corrupt_pdf(dir: Path, name: str = "corrupt.pdf") -> Path:
    path = Path(dir) / name
    path.write_bytes(b"%PDF-1.7\n" + random.Random(7).randbytes(4096))
    return path


def make_mislabelled(dir: Path, name: str = "actually_pdf.docx") -> Path:
    """A real PDF (same content as make_pdf) saved with a .docx extension."""
    path = Path(dir) / name
    path.write_bytes(_pdf_bytes())
    return path


# --------------------------------------------------------------------------- Office


def make_docx(dir: Path, name: str = "memo.docx") -> Path:
    path = Path(dir) / name
    path.write_bytes(_docx_bytes())
    return path


def make_truncated_docx(dir: Path, name: str = "truncated.docx") -> Path:
    path = Path(dir) / name
    data = _docx_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def make_pptx(dir: Path, name: str = "deck.pptx", slides: int = 3) -> Path:
    path = Path(dir) / name
    prs = pptx.Presentation()
    layout = prs.slide_layouts[1]  # "Title and Content"
    for n in range(1, slides + 1):
        slide = prs.slides.add_slide(layout)
        slide.shapes.title.text = f"Slide {n} title"
        body = slide.placeholders[1]
        body.text_frame.text = f"pptx-slide-{n}-token"
        if n == 2:
            slide.notes_slide.notes_text_frame.text = "pptx-notes-token"
        if n == 3:
            body.height = Inches(1.5)
            rows, cols = 2, 2
            shape = slide.shapes.add_table(rows, cols, Inches(1), Inches(3.5), Inches(8), Inches(1.5))
            values = [["Metric", "Value"], ["pptx-table-token", "42"]]
            for r in range(rows):
                for c in range(cols):
                    shape.table.cell(r, c).text = values[r][c]
    props = prs.core_properties
    props.title = "Test Deck"
    props.author = "Alan Turing"
    props.created = FIXED_DATETIME
    props.modified = FIXED_DATETIME
    buf = io.BytesIO()
    prs.save(buf)
    path.write_bytes(_pin_zip_dates(buf.getvalue()))
    return path


def make_xlsx(dir: Path, name: str = "book.xlsx", rows: int = 5) -> Path:
    """Sheets 'Sales' (with one formula in D2) and 'Notes'."""
    path = Path(dir) / name
    wb = openpyxl.Workbook()
    sales = wb.active
    sales.title = "Sales"
    sales.append(["Region", "Units", "Price", "Total"])
    regions = ["North", "South", "East", "West", "Central"]
    for i in range(rows):
        region = "xlsx-cell-token" if i == 0 else regions[i % len(regions)]
        sales.append([region, 10 * (i + 1), round(1.25 + i * 0.5, 2)])
    if rows >= 1:
        sales["D2"] = "=B2*C2"
    notes = wb.create_sheet("Notes")
    notes["A1"] = "xlsx-sheet2-token"
    notes["A2"] = "Figures are provisional."
    wb.properties.creator = "docgen"
    wb.properties.created = FIXED_DATETIME
    wb.properties.modified = FIXED_DATETIME
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(_pin_zip_dates(buf.getvalue()))
    return path


def make_xls(dir: Path, name: str = "old.xls") -> Path:
    path = Path(dir) / name
    wb = xlwt.Workbook()
    sheet = wb.add_sheet("Legacy")
    data = [
        ["Item", "Qty", "Price"],
        ["xls-cell-token", 3, 4.5],
        ["Widget", 12, 0.75],
        ["Gadget", 7, 19.99],
    ]
    for r, row in enumerate(data):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    wb.save(str(path))
    return path


# --------------------------------------------------------------------------- images


def make_png_with_text(dir: Path, name: str = "sign.png") -> Path:
    path = Path(dir) / name
    _text_image("HELLO OCR 42", width=800, height=200, font_size=96).save(path, format="PNG")
    return path


def make_jpeg_with_exif(dir: Path, name: str = "photo.jpg") -> Path:
    path = Path(dir) / name
    img = Image.new("RGB", (320, 240), (70, 130, 180))
    draw = ImageDraw.Draw(img)
    draw.rectangle((40, 40, 280, 200), fill=(240, 200, 60))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0110] = "Model-X"  # Model
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"  # DateTimeOriginal (Exif IFD)
    img.save(path, format="JPEG", exif=exif, quality=90)
    return path


# --------------------------------------------------------------------------- e-book


def make_epub(dir: Path, name: str = "book.epub") -> Path:
    path = Path(dir) / name
    book = epub.EpubBook()
    book.set_identifier("tiny-book-0001")
    book.set_title("Tiny Book")
    book.set_language("en")
    book.add_author("Mary Shelley")
    ch1 = epub.EpubHtml(title="Chapter One", file_name="chap_01.xhtml", lang="en")
    ch1.content = "<h1>Chapter One</h1><p>It begins here with epub-ch1-token.</p>"
    ch2 = epub.EpubHtml(title="Chapter Two", file_name="chap_02.xhtml", lang="en")
    ch2.content = "<h1>Chapter Two</h1><p>It continues with epub-ch2-token.</p>"
    book.add_item(ch1)
    book.add_item(ch2)
    book.toc = (
        epub.Link("chap_01.xhtml", "Chapter One", "chap_01"),
        epub.Link("chap_02.xhtml", "Chapter Two", "chap_02"),
    )
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", ch1, ch2]
    buf = io.BytesIO()
    epub.write_epub(buf, book, {"mtime": FIXED_DATETIME})
    path.write_bytes(_pin_zip_dates(buf.getvalue()))
    return path


# --------------------------------------------------------------------------- archives


def make_zip(dir: Path, name: str = "bundle.zip", members: dict[str, bytes] | None = None) -> Path:
    path = Path(dir) / name
    if members is None:
        members = {
            "docs/readme.txt": b"zip-member-token\n",
            "docs/report.pdf": _pdf_bytes(),
        }
    with zipfile.ZipFile(path, "w") as zf:
        for member_name, data in members.items():
            zf.writestr(_zipinfo(member_name), data)
    return path


def make_zip_bomb(dir: Path, name: str = "bomb.zip", size: int = 2 * 1024**3) -> Path:
    """Single deflated member of `size` zero bytes, streamed in 1 MiB chunks."""
    path = Path(dir) / name
    chunk = bytes(1024 * 1024)
    with zipfile.ZipFile(path, "w") as zf:
        with zf.open(_zipinfo("zeros.bin"), "w", force_zip64=True) as member:
            remaining = size
            while remaining > 0:
                n = min(remaining, len(chunk))
                member.write(chunk if n == len(chunk) else chunk[:n])
                remaining -= n
    return path


def make_many_member_zip(dir: Path, count: int = 20000, name: str = "many.zip") -> Path:
    path = Path(dir) / name
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(count):
            zf.writestr(_zipinfo(f"files/f{i:05d}.txt"), f"member {i}\n".encode())
    return path
