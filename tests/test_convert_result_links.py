"""Search-engine result pages read as documents: click-tracking links come out as their targets."""

from __future__ import annotations

import base64

import pytest

from memento.convert.formats import Blob, ConvertOptions, convert
from memento.convert.formats.resultlinks import decode_result_link


def _bing_u(url: str) -> str:
    return "a1" + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def _markdown(html: str) -> str:
    document = convert(Blob(html.encode(), "results.html", "html"), ConvertOptions())
    return "\n".join(section.text for section in document.sections)


# The shapes of the engines' result pages as a browser saves them (markup trimmed to what matters).
BING_PAGE = f"""<!DOCTYPE html><html><head><title>river otters - Search</title></head><body>
<ol id="b_results">
 <li class="b_algo"><h2><a href="https://www.bing.com/ck/a?!&amp;&amp;p=4f1e2d&amp;ptn=3&amp;ver=2&amp;hsh=4&amp;fclid=1a2b&amp;u={_bing_u("https://en.wikipedia.org/wiki/North_American_river_otter?lang=en&x=1")}&amp;ntb=1">North American river otter - Wikipedia</a></h2>
  <p>The North American river otter is a semiaquatic mammal.</p></li>
 <li class="b_algo"><h2><a href="/ck/a?!&amp;&amp;p=9c&amp;u={_bing_u("https://www.nwf.org/otters")}&amp;ntb=1">Otters | National Wildlife Federation</a></h2></li>
</ol></body></html>"""

DDG_PAGE = """<html><head><title>river otters at DuckDuckGo</title></head><body>
<div class="result results_links"><h2 class="result__title">
<a rel="nofollow" class="result__a" href="//duckduckgo.com/l/?uddg=https%3A%2F%2Fwww.otters.org%2Fspecies%3Fid%3D7&amp;rut=0a1b2c">Otter species</a></h2>
<a class="result__snippet" href="/l/?uddg=https%3A%2F%2Fexample.org%2Fotters&amp;rut=99">Otters live in rivers.</a></div>
</body></html>"""

GOOGLE_PAGE = """<html><head><title>river otters - Google Search</title></head><body><div id="main">
<div><a href="/url?q=https://www.britannica.com/animal/otter&amp;sa=U&amp;ved=2ahUKEwj&amp;usg=AOvVaw1">Otter | Britannica</a></div>
<div><a href="https://www.google.com/url?sa=t&amp;url=https%3A%2F%2Fotter.example.net%2F&amp;usg=AOv">otter.example.net</a></div>
<div><a href="/search?q=river+otters&amp;start=10">Next</a></div>
</div></body></html>"""


@pytest.mark.parametrize(
    ("page", "targets", "trackers"),
    [
        (BING_PAGE, ["https://en.wikipedia.org/wiki/North_American_river_otter?lang=en&x=1", "https://www.nwf.org/otters"], ["/ck/a"]),
        (DDG_PAGE, ["https://www.otters.org/species?id=7", "https://example.org/otters"], ["uddg=", "/l/?"]),
        (GOOGLE_PAGE, ["https://www.britannica.com/animal/otter", "https://otter.example.net/"], ["/url?", "usg="]),
    ],
    ids=["bing", "duckduckgo", "google"],
)
def test_a_result_page_links_to_the_results_not_to_the_engines_click_tracking(page: str, targets: list[str], trackers: list[str]) -> None:
    markdown = _markdown(page)
    for target in targets:
        assert f"]({target}" in markdown
    for tracker in trackers:
        assert tracker not in markdown


def test_links_that_are_not_click_tracking_are_left_as_they_are() -> None:
    assert "](/search?q=river+otters&start=10)" in _markdown(GOOGLE_PAGE)
    kept = [
        "https://example.org/url?q=https://elsewhere.example/",  # another site's redirect is its own
        "https://www.bing.com/ck/a?u=a1%%%not-base64",  # undecodable: kept
        "https://www.bing.com/ck/a?u=a1" + base64.urlsafe_b64encode(b"javascript:alert(1)").decode(),  # not a web URL
        "/url?q=/relative/only",
        "https://duckduckgo.com/l/?uddg=ftp%3A%2F%2Ffiles.example",
        "mailto:someone@example.org",
    ]
    for href in kept:
        assert decode_result_link(href) == href
