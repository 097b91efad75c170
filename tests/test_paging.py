"""Pagination: windows end on line breaks, notes name the next start, parts rebuild the whole."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memento.servers.common.errors import InvalidInput
from memento.servers.common.paging import paginate


def _read_all(text: str, max_length: int) -> str:
    parts, start = [], 0
    while True:
        page = paginate(text, start, max_length)
        parts.append(page.content)
        if page.next_start_index is None:
            return "".join(parts)
        assert page.next_start_index > start
        start = page.next_start_index


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \n\té"), max_size=3000), st.integers(min_value=1, max_value=500))
def test_reading_every_part_reproduces_the_whole_text(text: str, max_length: int) -> None:
    assert _read_all(text, max_length) == text


def test_a_window_prefers_to_end_at_a_line_break() -> None:
    text = ("x" * 95 + "\n") * 10
    page = paginate(text, 0, 100)
    assert page.content.endswith("\n") and page.end_index == 96


def test_the_note_names_the_total_and_the_next_start_index() -> None:
    page = paginate("a" * 250, 0, 100)
    assert page.total_length == 250 and page.next_start_index == 100
    assert "start_index=100" in page.render() and "of 250" in page.render()
    last = paginate("a" * 250, 200, 100)
    assert last.next_start_index is None and "end of text" in last.render()


def test_a_short_text_has_no_note() -> None:
    assert paginate("short", 0, 100).render() == "short"


@pytest.mark.parametrize(("start", "length", "message"), [(-1, 10, "0 or more"), (0, 0, "at least 1"), (99, 10, "past the end")])
def test_bad_windows_are_refused_with_a_reason(start: int, length: int, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        paginate("some text", start, length)


@pytest.mark.anyio
@pytest.mark.integration
async def test_paging_a_long_pdf_through_the_server_rebuilds_the_whole_text(docs) -> None:
    from tests.mcp_servers import stdio_client_for

    async with stdio_client_for("documents", env={"MEMENTO_DOCUMENTS_ROOTS": str(docs)}, cwd=docs) as client:
        whole = await client.call_tool("read_document", {"source": "long.pdf", "max_length": 1_000_000})
        full = whole.structured_content["page"]["content"]
        assert whole.structured_content["page"]["next_start_index"] is None
        parts, start, calls = [], 0, 0
        while start is not None:
            reply = await client.call_tool("read_document", {"source": "long.pdf", "start_index": start, "max_length": 20_000})
            assert not reply.is_error
            page = reply.structured_content["page"]
            parts.append(page["content"])
            if page["next_start_index"] is not None:
                assert f"start_index={page['next_start_index']}" in reply.content[0].text
            start, calls = page["next_start_index"], calls + 1
        assert "".join(parts) == full
        assert calls >= len(full) // 20_000
