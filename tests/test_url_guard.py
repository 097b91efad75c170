"""The URL guard decides before any connection: only its decision is tested, with a stubbed resolver.

No test here opens a socket: private, link-local and metadata addresses are
never contacted, only refused.
"""

from __future__ import annotations

import pytest

from memento.servers.common.errors import AccessDenied, InvalidInput
from memento.servers.common.urls import UrlPolicy, check_url


def resolver_for(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        return table[host]

    return resolve


PUBLIC = resolver_for({"example.org": ["93.184.215.14"], "sneaky.example": ["127.0.0.1"], "mixed.example": ["93.184.215.14", "10.0.0.5"]})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost.localdomain.invalid/",  # resolves (stubbed below) to loopback
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://2130706433/",  # 127.0.0.1 as one number
        "http://127.1/",
        "http://0x7f.0.0.1/",
        "http://sneaky.example/",  # a public-looking name that resolves to loopback
        "http://mixed.example/",  # one private answer among public ones is enough to refuse
        "http://metadata.google.internal/computeMetadata/v1/",
    ],
)
def test_local_private_and_metadata_addresses_are_refused(url: str) -> None:
    policy = UrlPolicy(
        resolver=resolver_for(
            {
                "localhost.localdomain.invalid": ["127.0.0.1"],
                "sneaky.example": ["127.0.0.1"],
                "mixed.example": ["93.184.215.14", "10.0.0.5"],
                "metadata.google.internal": ["169.254.169.254"],
            }
        )
    )
    with pytest.raises(AccessDenied):
        check_url(url, policy)


def test_a_public_address_is_allowed() -> None:
    assert check_url("https://example.org/report.pdf", UrlPolicy(resolver=PUBLIC)) == "https://example.org/report.pdf"


@pytest.mark.parametrize(
    "url", ["ftp://example.org/x", "file:///etc/passwd", "gopher://x", "javascript:alert(1)", "http://", "http://exa mple.org:99999/"]
)
def test_other_schemes_and_malformed_urls_are_invalid(url: str) -> None:
    with pytest.raises(InvalidInput):
        check_url(url, UrlPolicy(resolver=PUBLIC))


def test_allowing_private_addresses_still_refuses_metadata() -> None:
    policy = UrlPolicy(allow_private=True, resolver=PUBLIC)
    assert check_url("http://sneaky.example/", policy)
    assert check_url("http://10.1.2.3/", policy)
    with pytest.raises(AccessDenied, match="metadata"):
        check_url("http://169.254.169.254/", policy)


def test_allowed_hosts_skip_the_address_check() -> None:
    policy = UrlPolicy(allow_hosts=frozenset({"sneaky.example"}), resolver=PUBLIC)
    assert check_url("http://sneaky.example/page", policy)
    with pytest.raises(AccessDenied):
        check_url("http://127.0.0.1/", policy)


def test_the_refusal_says_how_to_lift_it() -> None:
    with pytest.raises(AccessDenied, match="MEMENTO_ALLOW_PRIVATE_URLS"):
        check_url("http://sneaky.example/", UrlPolicy(resolver=PUBLIC))
