"""Reading connector configs in the forms the docs show them."""

from __future__ import annotations

import pytest
from olapsink_worker.errors import ConfigError
from olapsink_worker.spec.connect_files import parse_properties, read_connector_config


def test_properties_separators_comments_and_escapes() -> None:
    text = "# comment\n! also\na=1\nb = 2\nc:3\nd 4\ne=x\\\n   y\nf=a\\=b\\u0041\ng=\n"
    assert parse_properties(text) == {"a": "1", "b": "2", "c": "3", "d": "4", "e": "xy", "f": "a=bA", "g": ""}


def test_later_property_wins() -> None:
    assert parse_properties("a=1\na=2\n") == {"a": "2"}


def test_rest_body_and_bare_config() -> None:
    assert read_connector_config('{"name": "n", "config": {"topics": "t"}}') == ("n", {"topics": "t"})
    assert read_connector_config('{"name": "n", "topics": "t"}') == ("n", {"name": "n", "topics": "t"})


def test_curl_command_body() -> None:
    text = (
        "curl -i http://h:8083/connectors -H 'Content-Type: application/json' -X POST "
        '-d \'{\n "name":"n"}\''
    )
    assert read_connector_config(text) == ("n", {"name": "n"})


def test_bad_json_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_connector_config('{"name": ')
