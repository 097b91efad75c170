"""Captions and subtitles (WebVTT, SRT) read as timed transcript segments.

A page's own captions are what its authors said was spoken, so the documents server
prefers them to transcribing. Only text and times are kept: cue settings, styling tags
and the rolling repeats of auto-generated captions are dropped. Reads text; fetches nothing.
"""

from __future__ import annotations

import html
import re

from .transcribe import Segment

__all__ = ["parse_captions"]

_TIMING = re.compile(r"((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*((?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})")
_TAG = re.compile(r"<[^>]*>")


def parse_captions(text: str) -> list[Segment]:
    """The cues of a WebVTT or SRT file in time order; an empty list when there are none."""
    segments: list[Segment] = []
    for block in re.split(r"\r?\n\s*\r?\n", text.replace("\ufeff", "")):
        lines = block.strip().splitlines()
        timed = next((i for i, line in enumerate(lines) if _TIMING.search(line)), None)
        if timed is None:
            continue  # the WEBVTT header, a NOTE, a STYLE block
        match = _TIMING.search(lines[timed])
        assert match is not None
        words = " ".join(html.unescape(_TAG.sub("", line)).strip() for line in lines[timed + 1 :])
        words = " ".join(words.split())
        if not words:
            continue
        start, end = _seconds(match.group(1)), _seconds(match.group(2))
        if segments and segments[-1].text == words:  # auto-captions repeat a line as it scrolls
            segments[-1] = Segment(segments[-1].start, max(end, segments[-1].end), words)
            continue
        segments.append(Segment(start, max(start, end), words))
    return sorted(segments, key=lambda s: s.start)


def _seconds(stamp: str) -> float:
    value = 0.0
    for part in stamp.replace(",", ".").split(":"):
        value = value * 60 + float(part)
    return value
