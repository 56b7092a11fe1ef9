"""Encoder settings and `key=value` pairs: one parser with TOML values (`lsr.keyvalue`) for `-m MODEL:k=v` and
`lsr train` overrides; `Settings.parse` checks every setting's name, type and choices; settings never change
in place."""

from __future__ import annotations

import dataclasses

import pytest

from lsr.errors import LsrError
from lsr.keyvalue import parse_pair, parse_value, split_pairs
from lsr.models.registry import parse_model_spec
from lsr.models.settings import DecoderSettings, InferenceFreeSettings, SpladeSettings


@pytest.mark.parametrize("text, value", [("3", 3), ("1e-4", 1e-4), ("true", True), ("false", False),
                                         ('"a b"', "a b"), ("[1, 2]", [1, 2]), ("{r = 8}", {"r": 8}),
                                         ("first", "first"), (" bfloat16 ", "bfloat16"), ("", "")])
def test_values_are_toml_else_bare_text(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_pairs_split_at_top_level_commas_only():
    assert split_pairs('a=1,b=[1, 2],c="x,y",d={r = 8, alpha = 16}') == ['a=1', 'b=[1, 2]', 'c="x,y"',
                                                                          'd={r = 8, alpha = 16}']
    assert parse_pair(" key = 3 ") == ("key", 3)
    with pytest.raises(LsrError, match="expected key=value"):
        parse_pair("novalue")
    with pytest.raises(LsrError, match="expected key=value"):
        parse_pair("=3")


def test_model_specs_take_typed_values():
    assert parse_model_spec("models/x") == ("models/x", {})
    spec = "naver/splade-v3:echo=false,doc_max_length=128,dtype=bfloat16,lora={r = 8, alpha = 16}"
    assert parse_model_spec(spec) == ("naver/splade-v3", {"echo": False, "doc_max_length": 128, "dtype": "bfloat16",
                                                          "lora": {"r": 8, "alpha": 16}})
    with pytest.raises(LsrError, match=r"m:a=1,b: expected MODEL:key=value,key=value, got 'b'"):
        parse_model_spec("m:a=1,b")


def test_settings_check_types_and_choices_naming_the_setting():
    assert DecoderSettings.parse({"echo": False}).echo is False
    assert DecoderSettings.parse({"logit_threshold": 2}).logit_threshold == 2.0  # an int passes for a float
    for values, message in [({"echo": "false"}, "setting 'echo': \"false\" is not a bool"),
                            ({"batch_size": 2.5}, "setting 'batch_size': 2.5 is not an int"),
                            ({"doc_max_length": True}, "setting 'doc_max_length': true is not an int"),
                            ({"query_template": 3}, "setting 'query_template': 3 is not a str or none"),
                            ({"long_docs": "all"}, "long_docs must be one of windows, first, not 'all'"),
                            ({"nope": 1}, "unknown setting 'nope' for a splade encoder")]:
        cls = DecoderSettings if "echo" in values or "query_template" in values else SpladeSettings
        with pytest.raises(LsrError) as caught:
            cls.parse(values, "models/m")
        assert message in str(caught.value) and "\n" not in str(caught.value)
        assert str(caught.value).startswith("models/m: ") or "must be one of" in str(caught.value)


def test_settings_are_never_changed_in_place():
    settings = InferenceFreeSettings.parse({"batch_size": 4})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.batch_size = 8  # type: ignore[misc]
    changed = settings.replace(batch_size=8, doc_max_length=None)
    assert (settings.batch_size, changed.batch_size, changed.doc_max_length) == (4, 8, settings.doc_max_length)
    with pytest.raises(LsrError, match="setting 'batch_size'"):
        settings.replace(batch_size="eight")
