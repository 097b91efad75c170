"""Main-content extraction rules on pages written here: page furniture left out, the lead kept."""

from __future__ import annotations

import lxml.html

from memento.servers.browse.extract import extract_main
from memento.servers.browse.furniture import shown_summary, strip_furniture

PARAGRAPHS = [
    "The harbour authority opened the new tidal gate on Monday after four years of construction work along the estuary.",
    "Engineers expect the gate to hold back storm surges of up to three metres while letting fish pass at slack water.",
    "Local fishermen said the first weeks of operation would show whether the promised channel depth is kept in winter.",
    "The project was paid for by the regional council and a national flood fund, at a cost of forty million euros.",
]
COMMENTS = [
    "Another waste of our taxes, the old gate worked fine for decades and nobody asked the people who live here.",
    "Great news for the town, my cellar flooded twice last winter and I hope this finally puts an end to it.",
]
COOKIES = "We use cookies to improve your experience on this site. By continuing to browse you agree to our use of cookies."
LEAD = "A forty-million-euro tidal gate now guards the estuary town against storm surges, four years after work began."


def _comments() -> str:
    return "".join(
        f'<div class="sf_comment"><p class="sf_comment_info"><span class="sf_comment_author">reader{i}</span></p>'
        f'<div class="sf_comment_text"><p>{text}</p></div></div>'
        for i, text in enumerate(COMMENTS)
    )


def test_reader_comments_and_a_cookie_notice_beside_the_article_are_left_out() -> None:
    # trafilatura alone keeps both on this page: no class or id it knows names them
    body = "".join(f"<p>{text}</p>" for text in PARAGRAPHS)
    html = f"""<html><head><title>Tidal gate opens</title></head><body>
<section>{body}</section>
<div id="sf_comment_list" class="box clearfix">{_comments()}</div>
<div id="privacy-notice" class="cookiemsg"><p>{COOKIES}</p></div>
</body></html>"""
    markdown = extract_main(html, "https://news.test/gate").markdown
    for text in PARAGRAPHS:
        assert text in markdown
    for text in [*COMMENTS, COOKIES]:
        assert text not in markdown
    before = extract_main(html, "https://news.test/gate", furniture=False).markdown
    assert all(text in before for text in [*COMMENTS, COOKIES])


def _article_with_lead() -> str:
    body = "".join(f"<p>{text}</p>" for text in PARAGRAPHS)
    return f"""<html><head><title>Tidal gate opens</title><meta name="description" content="{LEAD}"></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article class="article"><h1>Tidal gate opens</h1><div class="article__lead">{LEAD}</div>
<div class="article__body">{body}</div></article>
</body></html>"""


def test_the_lead_shown_outside_the_article_body_is_kept_once_under_the_title() -> None:
    # trafilatura reads the element named article__body and misses the lead beside it
    markdown = extract_main(_article_with_lead(), "https://news.test/gate").markdown
    assert markdown.count(LEAD) == 1
    assert markdown.index("# Tidal gate opens") < markdown.index(LEAD) < markdown.index(PARAGRAPHS[0])


def test_a_description_the_page_does_not_show_as_its_own_block_is_not_a_lead() -> None:
    shown = lxml.html.fromstring(f'<html><head><meta name="description" content="{LEAD}"></head><body><p>{LEAD}</p></body></html>')
    assert shown_summary(shown) == LEAD
    only_meta = lxml.html.fromstring(f'<html><head><meta name="description" content="{LEAD}"></head><body><p>Other text.</p></body></html>')
    assert shown_summary(only_meta) is None
    begins_a_paragraph = lxml.html.fromstring(
        f'<html><head><meta name="description" content="{LEAD}"></head><body><p>{LEAD} {PARAGRAPHS[0]}</p></body></html>'
    )
    assert shown_summary(begins_a_paragraph) is None


def _remaining(html: str) -> str:
    tree = lxml.html.fromstring(html)
    strip_furniture(tree)
    return " ".join(" ".join(tree.itertext()).split())


def test_hidden_parts_forms_and_dialogs_are_furniture() -> None:
    text = _remaining(
        "<html><body><main>"
        f"<p>{PARAGRAPHS[0]}</p>"
        '<div style="display: none">Save this article: members only.</div>'
        '<h2 class="sr-only">Share this story</h2>'
        "<p hidden>Loading comments</p>"
        '<form action="/subscribe"><p>Get our weekly letter</p><input type="email"><button>Sign up</button></form>'
        '<div role="dialog"><p>Before you go: subscribe for one euro.</p></div>'
        f"<p>{PARAGRAPHS[1]}</p>"
        "</main></body></html>"
    )
    assert text == f"{PARAGRAPHS[0]} {PARAGRAPHS[1]}"


def test_furniture_words_count_only_as_whole_words_of_a_class_or_id() -> None:
    text = _remaining(
        "<html><body>"
        f'<div class="commentary-column"><p>{PARAGRAPHS[0]}</p></div>'
        f'<div class="subscribers-only"><p>{PARAGRAPHS[1]}</p></div>'
        '<div class="story-related-links"><p>Read also: the old gate</p></div>'
        '<section id="commentList"><p>First!</p></section>'
        '<div class="inline-recirc"><p>More from the coast</p></div>'
        f"<p>{PARAGRAPHS[2]}</p>"
        "</body></html>"
    )
    assert text == f"{PARAGRAPHS[0]} {PARAGRAPHS[1]} {PARAGRAPHS[2]}"


def test_a_furniture_name_on_the_element_holding_most_of_the_page_does_not_remove_the_page() -> None:
    # Some sites put state classes on their main wrapper ("comments-open", "has-newsletter").
    body = "".join(f"<p>{text}</p>" for text in PARAGRAPHS)
    text = _remaining(f'<html><body><div class="page comments-open">{body}</div><footer>Contact</footer></body></html>')
    assert all(paragraph in text for paragraph in PARAGRAPHS)


def test_a_paragraph_made_of_several_links_is_a_list_of_other_pages_but_one_link_in_a_sentence_is_not() -> None:
    text = _remaining(
        "<html><body>"
        f'<p>{PARAGRAPHS[0]} See <a href="/a">the council report</a> for details.</p>'
        '<p><strong>Related</strong><br><a href="/b">Gate construction delayed again</a><br><a href="/c">Council approves flood fund</a></p>'
        f"<p>{PARAGRAPHS[1]}</p>"
        "</body></html>"
    )
    assert "Gate construction delayed again" not in text
    assert "Council approves flood fund" not in text
    assert "See the council report for details." in text
    assert PARAGRAPHS[1] in text


def test_text_after_a_removed_element_stays() -> None:
    tree = lxml.html.fromstring("<html><body><div><p>Kept before.</p><span hidden>gone</span> and kept after.</div></body></html>")
    assert strip_furniture(tree) == 1
    assert " ".join(" ".join(tree.itertext()).split()) == "Kept before. and kept after."


def test_a_list_of_linked_headlines_with_their_dates_is_a_list_of_other_pages() -> None:
    items = "".join(
        f'<li><h4><a href="/n/{i}">{headline}</a> <span class="time">(2018/6/1{i} 14:10)</span> <span>[members only]</span></h4></li>'
        for i, headline in enumerate(["Gate talks stall", "Council vote due", "Fishermen protest"])
    )
    text = _remaining(f"<html><body><p>{PARAGRAPHS[0]}</p><ul>{items}</ul><ul><li>Steel: 40%</li><li>Concrete: 60%</li></ul></body></html>")
    assert "Gate talks stall" not in text and "Fishermen protest" not in text
    assert "Steel: 40% Concrete: 60%" in text  # an ordinary list stays


def test_copyright_and_contact_lines_closing_the_article_are_left_out() -> None:
    body = "".join(f"<p>{text}</p>" for text in PARAGRAPHS)
    closing = "<p>Write to Ann Lee at ann.lee@news.test</p><p>© 2024 News Test Ltd. All rights reserved.</p>"
    html = f"<html><head><title>Tidal gate opens</title></head><body><article>{body}{closing}</article></body></html>"
    markdown = extract_main(html, "https://news.test/gate").markdown
    assert markdown.rstrip().endswith(PARAGRAPHS[-1])
    before = extract_main(html, "https://news.test/gate", furniture=False).markdown
    assert "All rights reserved" in before and "ann.lee@news.test" in before


def test_a_bare_address_closing_a_contact_page_is_content_and_stays() -> None:
    body = "".join(f"<p>{text}</p>" for text in PARAGRAPHS)
    html = f"<html><head><title>Contact</title></head><body><article>{body}<p>Email: harbour.office@news.test</p></article></body></html>"
    assert "harbour.office@news.test" in extract_main(html, "https://news.test/contact").markdown


def test_an_article_shown_in_a_frame_named_modal_is_the_article_not_a_pop_up() -> None:
    # single-page sites open the story in an overlay whose classes say "modal"; beside it, more teasers
    body = "".join(f"<p>{text}</p>" for text in PARAGRAPHS)
    teasers = "".join(f"<p>{text} {text}</p>" for text in COMMENTS * 3)
    text = _remaining(
        f'<html><body><div class="stream">{teasers}</div>'
        f'<div class="render-target-modal"><h1>Tidal gate opens</h1>{body}</div>'
        '<div class="newsletter-modal"><h2>Our weekly letter</h2><p>Sign up now.</p></div></body></html>'
    )
    assert all(paragraph in text for paragraph in PARAGRAPHS)
    assert "Sign up now." not in text


def test_script_text_does_not_count_as_page_text_when_judging_what_holds_the_page() -> None:
    # a large inline script made the page's real wrapper look like a small share of it
    body = "".join(f"<p>{text}</p>" for text in PARAGRAPHS)
    state = "window.__STATE__ = " + "x" * 20_000 + ";"
    text = _remaining(f'<html><body><div class="story comments-open">{body}</div><script>{state}</script></body></html>')
    assert all(paragraph in text for paragraph in PARAGRAPHS)


def test_a_page_that_is_nothing_but_lists_of_linked_headlines_keeps_them_as_its_content() -> None:
    # a section front: the lists are what the page is for
    headlines = ["Gate talks stall", "Council vote due", "Fishermen protest", "Flood fund grows"]
    items = "".join(f'<li><h2><a href="/n/{i}">{headline}</a></h2><p>{PARAGRAPHS[i]}</p></li>' for i, headline in enumerate(headlines))
    text = _remaining(f"<html><body><h1>Coast</h1><ol>{items}</ol></body></html>")
    assert all(headline in text for headline in headlines)
    beside_an_article = _remaining(
        f"<html><body><article>{''.join(f'<p>{p} {p}</p>' for p in PARAGRAPHS)}</article><ol>{items}</ol></body></html>"
    )
    assert "Gate talks stall" not in beside_an_article


def test_superscripts_and_subscripts_read_as_plain_text_not_as_html_tags() -> None:
    paragraphs = "".join(f"<p>{text}</p>" for text in PARAGRAPHS)
    html = (
        "<html><head><title>Tidal gate opens</title></head><body><article>"
        f"{paragraphs}<p>The basin covers 268 km<sup>2</sup> of water<sup>[4]</sup> and the gate keeps CO<sub>2</sub> sensors "
        "along its <u>whole length</u> of concrete.</p></article></body></html>"
    )
    markdown = extract_main(html, "https://news.test/gate").markdown
    assert "<sup>" not in markdown and "<sub>" not in markdown and "<u>" not in markdown
    assert "268 km^2 of water[4]" in markdown
    assert "CO2 sensors along its whole length" in markdown
