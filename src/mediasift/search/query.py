"""What a query asks for, read from its web-search syntax before it is searched: whether anything in
it shows, and the query without what it excludes (``-word``, ``-"a phrase"``), which is what a search
by meaning embeds and what a snippet marks."""

from __future__ import annotations

import re
import unicodedata

MAX_QUERY_CHARS = 1000  # what every door takes (the HTTP API's parameter, the command line, the web UI)


def visible(query: str) -> bool:
    """Whether ``query`` has a character that shows: not only spaces, controls and format characters
    (a zero-width space), which would be searched by meaning as if it were a word."""
    return any(not unicodedata.category(char).startswith(("Z", "C")) for char in query)


def sought(query: str) -> str:
    """``query`` (web-search syntax) without what it excludes (``-word`` and ``-"a phrase"``), its
    spaces made single; a query that excludes nothing comes back as it is."""
    if "-" not in query:
        return query
    return " ".join(_EXCLUDED.sub(" ", query).split())


_EXCLUDED = re.compile(r'(?:^|(?<=\s))-(?:"[^"]*(?:"|$)|\S*)')


def problem(query: str) -> str | None:
    """Why ``query`` cannot be searched, as a person reads it, or None: nothing in it shows, it only
    excludes, it is longer than :data:`MAX_QUERY_CHARS`, or it holds control characters (which the HTTP
    API refuses in its URL, so the command line and the web UI refuse them too)."""
    if len(query) > MAX_QUERY_CHARS:
        return f"the query is {len(query):,} characters long: at most {MAX_QUERY_CHARS:,} are searched"
    if any(unicodedata.category(char) == "Cc" for char in query):
        return "the query holds control characters (a tab, a line break or another): write it on one line"
    if not visible(query):
        return "the query is empty: say what to look for"
    if not visible(sought(query).replace('"', " ")):
        return "the query only excludes words (-word): say what to look for besides them"
    return None
