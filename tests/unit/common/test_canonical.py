"""Canonical JSON: byte for byte what Python's json writes (sorted keys, no whitespace,
UTF-8, no NaN), for every kind of value, though orjson writes most of it."""

from __future__ import annotations

import datetime
import enum
import json
import math
import random
import struct
import uuid
from typing import Any

import pytest
from attesta_common.canonical import canonical_json, loads_canonical

ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def by_json(value: Any) -> bytes:
    return ENCODER.encode(value).encode("utf-8")


def _floats(rng: random.Random) -> list[float]:
    found = [0.0, -0.0, 1e-4, 9.99e-5, 1e-5, 1e-7, 1e-10, 5e-324, 1e16, 1e22, 0.1, 1.0, 2.0]
    while len(found) < 20000:
        x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if math.isfinite(x):
            found.append(x)
    for exponent in range(-330, 309):
        for mantissa in (1.0, 1.5, 9.999999999999999, 1.2345678901234567):
            x = mantissa * 10.0**exponent
            if math.isfinite(x):
                found += [x, -x]
    found += [round(rng.uniform(-2, 2), rng.randrange(8)) for _ in range(5000)]
    return found


def _text(rng: random.Random) -> str:
    def char() -> str:
        pick = rng.random()
        if pick < 0.3:
            return chr(rng.randrange(0, 0x80))
        if pick < 0.6:
            return rng.choice('"\\/\b\f\n\r\t\x00\x1f\x7f e- 0.0000 1e-7 :,[')
        if pick < 0.8:
            return chr(rng.randrange(0x80, 0xD800))
        return chr(rng.randrange(0xE000, 0x110000))

    return "".join(char() for _ in range(rng.randrange(0, 12)))


def _value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth < 3 and pick < 0.25:
        return {_text(rng): _value(rng, depth + 1) for _ in range(rng.randrange(0, 5))}
    if depth < 3 and pick < 0.4:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    if pick < 0.55:
        return _text(rng)
    if pick < 0.7:
        return rng.choice(_FLOATS)
    if pick < 0.85:
        return rng.choice((rng.randrange(-(2**70), 2**70), rng.randrange(-1000, 1000)))
    return rng.choice((None, True, False))


_FLOATS = _floats(random.Random(7))


def test_floats_are_written_as_json_writes_them() -> None:
    for x in _FLOATS:
        # Alone, and as a value after each character that can precede one.
        for value in (x, [x], [1, x], {"k": x}, {"k": [x, x]}):
            assert canonical_json(value) == by_json(value), x


def test_every_character_is_written_as_json_writes_it() -> None:
    for code in [*range(0, 0xD800), *range(0xE000, 0x110000, 13)]:
        value = {f"k{chr(code)}": f"a{chr(code)}b", chr(code): code}
        assert canonical_json(value) == by_json(value), hex(code)


def test_random_values_are_written_as_json_writes_them() -> None:
    rng = random.Random(21)
    for _ in range(20000):
        value = _value(rng)
        assert canonical_json(value) == by_json(value)


def test_what_json_refuses_is_refused() -> None:
    for bad in (float("nan"), float("inf"), -float("inf")):
        for value in (bad, [bad], {"a": {"b": [None, bad]}}, {"a": None, "b": bad}):
            with pytest.raises(ValueError):
                canonical_json(value)
    color = enum.Enum("Color", "RED")
    for foreign in (datetime.datetime(2026, 1, 1), uuid.uuid4(), color.RED, {1, 2}):
        with pytest.raises(TypeError):
            canonical_json({"x": foreign, "y": None})
    with pytest.raises(ValueError):
        canonical_json({"x": "\ud800"})  # a lone surrogate is no UTF-8


def test_what_json_writes_and_orjson_does_not_is_still_written() -> None:
    for value in ({1: "int key"}, [2**64, -(2**63) - 1], (1, (2, 3)), {"t": (None, 1.5)}):
        assert canonical_json(value) == by_json(value)
    shade = enum.IntEnum("Shade", "DARK")
    assert canonical_json({"s": shade.DARK}) == by_json({"s": shade.DARK}) == b'{"s":1}'


def test_canonical_bytes_are_read_as_json_reads_them() -> None:
    rng = random.Random(9)
    vouched = 0
    for _ in range(5000):
        data = by_json(_value(rng))
        read = loads_canonical(data)
        # None leaves it to json: a big integer, or a float orjson writes otherwise.
        if read is not None:
            assert repr(read) == repr(json.loads(data)), data
            vouched += 1
    assert vouched > 2500
    for common in (b'{"a":[1,2.5,"x",null,true]}', rb'{"k":"\u0000\n\"\\","z":-0.0}'):
        assert loads_canonical(common) == json.loads(common)


def test_what_orjson_cannot_vouch_for_is_left_to_json() -> None:
    for data in (
        b'{"b":1,"a":2}',  # unsorted
        b'{"a": 1}',  # whitespace
        b'{"a":0.00001}',  # orjson's form of 1e-05
        b'{"a":1e-05}',  # json's, which orjson writes otherwise
        b'{"a":[1e-7]}',
        b"0.00001",  # the same, alone
        b"-0.0000999",
        b"1e-7",
        b'{"a":"\u00e9"}',  # escaped where json writes the character
        b'{"a":1.0E+16}',
        b'{"a":10}\n',
        b'{"a":123456789012345678901234567890}',  # orjson reads a float
        b'{"a":NaN}',
        b'{"a":1,"a":2}',
        b"{",
    ):
        assert loads_canonical(data) is None, data
