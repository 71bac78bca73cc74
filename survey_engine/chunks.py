"""Reading a file kept in the database as numbered pieces (an export's, an upload's),
for a streamed download.

Takes the engine, not the app: the response is sent after the request's context has
gone. Each piece is its own short query by primary key, so at most one piece is in
memory and no connection is held while the client reads slowly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa


def stored_pieces(
    engine: sa.Engine, data: Any, owner: Any, seq: Any, owner_id: int
) -> Iterator[bytes]:
    """`data` of the rows whose `owner` column is `owner_id`, by `seq` 0, 1, 2...
    until one is missing."""
    number = 0
    while True:
        with engine.connect() as connection:
            piece = connection.execute(
                sa.select(data).where(owner == owner_id, seq == number)
            ).scalar()
        if piece is None:
            return
        yield bytes(piece)
        number += 1
