"""The results accumulator's counts as JSON, and back: what results/saved.py stores.

Written over the dataclass's fields, not over one class's names, so it keeps working
when the accumulator gains or loses fields: whatever a field holds (ints, floats,
strings, None, datetimes, Counters and dicts keyed by strings, tuples, floats or
datetimes, lists) is tagged with its type, so Counter({1.0: 3}) comes back a Counter
with the float key 1.0, not {"1.0": 3}. `shape` names the fields and their types: a
state saved for another shape of accumulator is not read back, it is counted anew.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections import Counter
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

T = TypeVar("T")


class CodecError(ValueError):
    """A value the codec has no tag for (a new kind of field): add one, don't guess."""


def shape(cls: type) -> str:
    """A fingerprint of the accumulator's fields (names and declared types)."""
    text = ";".join(f"{f.name}:{f.type}" for f in dataclasses.fields(cls))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def encode_state(obj: Any, omit: tuple[str, ...] = ()) -> dict[str, Any]:
    """{field: encoded value} of a dataclass instance, but the `omit` fields (those the
    caller gives back when decoding: the survey, the view)."""
    return {
        f.name: encode(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name not in omit
    }


def decode_state(cls: type[T], data: dict[str, Any], **given: Any) -> T:
    """An instance of `cls` from encode_state's dict and the omitted fields."""
    names = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    values = {name: decode(value) for name, value in data.items() if name in names}
    return cls(**given, **values)


def encode(value: Any) -> Any:
    """A JSON-able form of `value`; anything but plain strings, ints, bools and lists
    of them is a one-key object whose key is the tag."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        # JSONB takes no NaN or infinity; every float is tagged so 2.0 stays a float.
        return {"f": repr(value)} if not math.isfinite(value) else {"f": value}
    if isinstance(value, datetime):
        zone = getattr(value.tzinfo, "key", None)
        if zone is None:
            return {"dt": value.isoformat()}
        # A zone's wall time as it is (with fold), not its offset: a time in a gap of
        # the zone (Vietnam moved its clocks in 1947) would come back another hour.
        return {"dt": value.replace(tzinfo=None).isoformat(), "tz": zone, "fold": value.fold}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, tuple):
        return {"t": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, Counter):
        return {"c": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, dict):
        return {"m": [[encode(k), encode(v)] for k, v in value.items()]}
    raise CodecError(f"no JSON form for {type(value).__name__}")


def decode(value: Any) -> Any:
    """encode's inverse."""
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict) or len(value) not in (1, 3):
        raise CodecError(f"not an encoded value: {value!r:.80}")
    if "f" in value:
        return float(value["f"])
    if "dt" in value:
        moment = datetime.fromisoformat(value["dt"])
        zone = value.get("tz")
        return moment.replace(tzinfo=ZoneInfo(zone), fold=value.get("fold", 0)) if zone else moment
    if "d" in value:
        return date.fromisoformat(value["d"])
    if "t" in value:
        return tuple(decode(v) for v in value["t"])
    if "c" in value:
        return Counter({decode(k): decode(v) for k, v in value["c"]})
    if "m" in value:
        return {decode(k): decode(v) for k, v in value["m"]}
    raise CodecError(f"unknown tag in {value!r:.80}")
