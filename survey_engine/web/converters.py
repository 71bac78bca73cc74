"""URL converters: an id in a URL is a database id, a name holds no NUL, or there is
no such page.

Werkzeug's `<int:...>` takes any run of Unicode digits ("٣" is 3) of any length, and
a number past the id column's range (99999999999999999999) reached the database
as a 500 (SQLite: OverflowError; PostgreSQL: integer out of range). Here an id is
ASCII digits within a PostgreSQL INTEGER, so anything else is a 404 at routing.

Likewise a slug or a name with a NUL (/s/a%00b) reached PostgreSQL, which refuses NUL
in text with a DataError: a 500 on every survey page. No slug or name has one.
"""

from __future__ import annotations

from werkzeug.routing import IntegerConverter, Map, UnicodeConverter

MAX_ID = 2**31 - 1  # PostgreSQL INTEGER, the type of every id column in URLs


class IdConverter(IntegerConverter):
    """`<int:...>` for ids: 0-9 only, at most MAX_ID."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map: Map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class TextConverter(UnicodeConverter):
    """`<slug>`, `<string:...>`: Werkzeug's, without NUL."""

    def __init__(self, map: Map, *args, **kwargs) -> None:
        super().__init__(map, *args, **kwargs)
        self.regex = self.regex.replace("[^/]", "[^/\\x00]")


def init_app(app) -> None:
    """Call before any rule is added (before registering the blueprints)."""
    app.url_map.converters.update(int=IdConverter, default=TextConverter, string=TextConverter)
