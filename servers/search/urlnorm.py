"""URL clean-up and the key that tells two results are the same page.

`clean_url` is what a result shows: redirect wrappers unwrapped, tracking
parameters and fragments dropped, host lower-cased, default port removed.
`dedup_key` goes further (no scheme, no `www.`, no trailing slash, sorted
parameters) so http/https and www/no-www copies of one page merge. Local file
paths pass through unchanged. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["clean_url", "dedup_key"]

_TRACKING = re.compile(
    r"^(utm_\w+|gclid|gclsrc|dclid|fbclid|msclkid|yclid|igshid|mc_cid|mc_eid|_ga|_gl|_hsenc|_hsmi|"
    r"mkt_tok|oly_anon_id|oly_enc_id|vero_id|wickedid|rb_clickid|s_cid|ref_src|spm)$",
    re.IGNORECASE,
)
# Redirect wrappers search engines put around result links: (host suffix, path, parameter holding the target).
_WRAPPERS = (
    ("duckduckgo.com", "/l/", "uddg"),
    ("google.com", "/url", "q"),
    ("google.com", "/url", "url"),
    ("bing.com", "/ck/a", "u"),
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters left as they are in a path; everything else is percent-encoded once.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def clean_url(url: str) -> str:
    url = url.strip()
    if not url.lower().startswith(("http://", "https://", "//")):
        return url  # a local path or an unusual scheme: shown as given
    if url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    target = _unwrap(parts.hostname or "", parts.path, parts.query)
    if target and target != url:
        return clean_url(target)
    host = (parts.hostname or "").rstrip(".").lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    netloc = host if port in (None, _DEFAULT_PORTS.get(parts.scheme.lower())) else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"  # never a password: it would show in results
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)]
    path = quote(unquote(parts.path), safe=_PATH_SAFE) or "/"
    return urlunsplit((parts.scheme.lower(), netloc, path, urlencode(query, doseq=True), ""))


def dedup_key(url: str) -> str:
    cleaned = clean_url(url)
    if not cleaned.lower().startswith(("http://", "https://")):
        return cleaned
    parts = urlsplit(cleaned)
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/") or "/"
    for index in ("/index.html", "/index.htm", "/index.php"):
        if path.endswith(index):
            path = path[: -len(index)] or "/"
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return f"{host}{path}" + (f"?{query}" if query else "")


def _unwrap(host: str, path: str, query: str) -> str | None:
    host = host.lower()
    for suffix, wrapper_path, parameter in _WRAPPERS:
        if (host == suffix or host.endswith("." + suffix)) and path.startswith(wrapper_path):
            for key, value in parse_qsl(query):
                if key == parameter and value.startswith(("http://", "https://")):
                    return value
    return None
