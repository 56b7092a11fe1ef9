"""The one `key=value` parser of lsr, with TOML value types, and the type check of a value against a field.

    lsr index CORPUS -o OUT -m MODEL:precision=bfloat16,doc_max_length=128
    lsr train config.toml train.max_steps=200 model.settings.long_docs=first

A value is read as TOML (`3`, `1e-4`, `true`, `"x y"`, `[1, 2]`, `{r = 8}`) and, when it is not valid TOML,
as the bare text (`first`, `bfloat16`); so `true` is the bool True and `3` the int 3.
"""

from __future__ import annotations

import json
import tomllib
import types
import typing
from typing import Any

from lsr.errors import LsrError


def parse_value(text: str) -> Any:
    """A TOML value, else the bare text (stripped) as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()


def parse_pair(item: str, what: str = "key=value") -> tuple[str, Any]:
    """`key=value` as (key, parsed value); LsrError naming `item` when it has no `=` or no key."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise LsrError(f"{item!r}: expected {what}")
    return key.strip(), parse_value(value)


def split_pairs(text: str) -> list[str]:
    """`a=1,b=[1, 2],c="x,y"` split at the commas outside brackets, braces and quotes."""
    pairs, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            pairs.append(text[start:i])
            start = i + 1
    pairs.append(text[start:])
    return pairs


def check_type(value: Any, hint: Any, name: str, what: str = "setting") -> Any:
    """`value` if it fits the type `hint` (an int passes for a float, and becomes one); LsrError naming
    `what` `name` otherwise."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    for option in options:
        base = typing.get_origin(option) or option
        if option is type(None) and value is None:
            return value
        if base is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if base is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if base in (str, bool, list, dict) and isinstance(value, base):
            return value
        if base is Any:
            return value
    shown = " or ".join(getattr(o, "__name__", str(o)).replace("NoneType", "none") for o in options)
    raise LsrError(f"{what} {name!r}: {json.dumps(value)} is not {_article(shown)} {shown}")


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
