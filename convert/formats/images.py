"""Images: format, size and EXIF through Pillow; text through Tesseract when it is installed.

The image itself travels with its section as a picture (downscaled to
`options.image_max_px`), so a reply shows it to a model that can see.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from typing import Any

from memento.core.errors import ConversionFailed

from ..model import Document, Section
from .base import Blob, ConvertOptions
from .pictures import encode_picture

FORMATS = ("image",)

_OCR_TIMEOUT_S = 60
_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825


def convert(blob: Blob, options: ConvertOptions) -> Document:
    from PIL import ExifTags, Image

    Image.MAX_IMAGE_PIXELS = 100_000_000  # a decompression-bomb guard: refuse above 100 megapixels
    try:
        image = Image.open(io.BytesIO(blob.data))
        image.verify()
        image = Image.open(io.BytesIO(blob.data))
    except Image.DecompressionBombError as exc:
        raise ConversionFailed(f"Image refused: {exc}") from exc
    except Exception as exc:
        raise ConversionFailed(f"This image is damaged or not a readable image ({exc}).") from exc
    metadata: dict[str, Any] = {
        "image_format": image.format,
        "width": image.width,
        "height": image.height,
        "mode": image.mode,
        "frames": getattr(image, "n_frames", 1),
    }
    exif = _exif(image, ExifTags)
    if exif:
        metadata["exif"] = exif
    if options.metadata_only:
        return Document("image", [], metadata)

    lines = [f"Image: {image.format}, {image.width}x{image.height} pixels, mode {image.mode}."]
    if exif:
        lines.append("\n## EXIF\n")
        lines += [f"- {k}: {v}" for k, v in exif.items()]
    notes = []
    text = None
    if not options.ocr:
        notes.append("OCR is turned off (MEMENTO_DOCUMENTS_OCR=false); only the image's facts are shown.")
    elif shutil.which(options.tesseract_cmd) is None:
        notes.append(
            f"OCR is unavailable: the Tesseract program ({options.tesseract_cmd!r}) is not installed, so any text "
            "in this image was not read. Install tesseract-ocr to read text in images."
        )
    else:
        text = _ocr(image, options)
    if text is not None:
        lines.append("\n## Text (OCR)\n")
        lines.append(text or "(no text found)")
    picture = encode_picture(image, options.image_max_px, 1, blob.name.rsplit("/", 1)[-1] or "the image")
    lines.insert(1, picture.marker)
    return Document("image", [Section("\n".join(lines), pictures=[picture])], metadata, notes)


def _exif(image: Any, tags: Any) -> dict[str, str]:
    try:
        raw = image.getexif()
    except Exception:
        return {}
    merged: dict[int, Any] = dict(raw)
    for ifd in (_EXIF_IFD, _GPS_IFD):
        try:
            merged.update(raw.get_ifd(ifd))
        except Exception:
            pass
    out = {}
    for key, value in merged.items():
        if key in (_EXIF_IFD, _GPS_IFD, 0x927C):  # pointers and the opaque maker note
            continue
        name = tags.TAGS.get(key) or tags.GPSTAGS.get(key) or f"tag_{key}"
        if isinstance(value, bytes):
            if len(value) > 64:
                continue
            value = value.decode("ascii", errors="replace").strip("\x00")
        text = str(value).strip()
        if text and len(text) <= 200:
            out[name] = text
    return out


def _ocr(image: Any, options: ConvertOptions) -> str:
    buffer = io.BytesIO()
    frame = image.convert("RGB") if image.mode not in ("RGB", "L") else image
    frame.save(buffer, format="PNG")
    try:
        done = subprocess.run(
            [options.tesseract_cmd, "stdin", "stdout", "-l", options.ocr_languages],
            input=buffer.getvalue(),
            capture_output=True,
            timeout=_OCR_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ConversionFailed(f"OCR took longer than {_OCR_TIMEOUT_S} s and was stopped.") from exc
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["unknown error"]
        raise ConversionFailed(f"OCR failed: {message[0]}")
    return "\n".join(line.rstrip() for line in done.stdout.decode("utf-8", errors="replace").splitlines()).strip()
