"""Values a hostile user (or a broken client) sends, as hypothesis strategies shared by
the tests: text with a control character, text too long for any field, URLs whose host
no library can call."""

from __future__ import annotations

from hypothesis import strategies as st

CONTROL = st.sampled_from(["\x00", "\x01", "\n", "\r", "\t", "\x1b", "\x7f"])

control_text = st.builds(
    lambda before, char, after: before + char + after,
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=10),
    CONTROL,
    st.text(max_size=10),
)
"""Text that holds at least one control character (NUL, a line break, an escape)."""

over_long = st.integers(2001, 5000).map(lambda n: "x" * n)
"""Longer than any text or URL field takes."""

BAD_HOSTS = ["🏠.home", "xn--", "xn--a.b", "a b", "[", "[::1", "ex ample.com", "a..b",
             "\x00", "%00", "host:99999", "host:-1", "ünïcode.example"]  # fmt: skip

bad_host_urls = st.builds(
    lambda scheme, host: f"{scheme}://{host}/path",
    st.sampled_from(["http", "https"]),
    st.sampled_from(BAD_HOSTS),
)
"""http(s) URLs whose host httpx cannot call (or that the document's pattern refuses)."""

hostile_text = st.one_of(control_text, over_long)
