"""Labels: deterministic, unique per batch, always within both databases' rules."""

from __future__ import annotations

import pytest
from olapsink_worker.load import DORIS, STARROCKS, Dialect, make_label
from olapsink_worker.tables import TableRef

DIALECTS = [pytest.param(DORIS, id="doris"), pytest.param(STARROCKS, id="starrocks")]
TABLE = TableRef("test_db", "orders_tbl")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_same_batch_gives_same_label(dialect: Dialect) -> None:
    first = make_label("ns_sink", TABLE, [("orders", 3, 100, 199)], dialect)
    again = make_label("ns_sink", TABLE, [("orders", 3, 100, 199)], dialect)
    assert first == again


@pytest.mark.parametrize("dialect", DIALECTS)
def test_short_label_is_readable(dialect: Dialect) -> None:
    label = make_label("ns_sink", TABLE, [("orders", 3, 100, 199)], dialect)
    assert label.startswith("ns_sink-orders_tbl-orders-3-100-199-")
    assert dialect.label_pattern.fullmatch(label)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "other",
    [
        ("other_sink", TABLE, ("orders", 3, 100, 199)),
        ("ns_sink", TableRef("other_db", "orders_tbl"), ("orders", 3, 100, 199)),
        ("ns_sink", TableRef("test_db", "orders_tbl2"), ("orders", 3, 100, 199)),
        ("ns_sink", TABLE, ("orders2", 3, 100, 199)),
        ("ns_sink", TABLE, ("orders", 4, 100, 199)),
        ("ns_sink", TABLE, ("orders", 3, 101, 199)),
        ("ns_sink", TABLE, ("orders", 3, 100, 198)),
    ],
)
def test_any_difference_in_the_batch_changes_the_label(
    dialect: Dialect, other: tuple[str, TableRef, tuple[str, int, int, int]]
) -> None:
    prefix, table, part = other
    assert make_label(prefix, table, [part], dialect) != make_label(
        "ns_sink", TABLE, [("orders", 3, 100, 199)], dialect
    )


@pytest.mark.parametrize("dialect", DIALECTS)
def test_names_that_sanitize_alike_still_get_distinct_labels(dialect: Dialect) -> None:
    # "a.b" and "a_b" both read as a_b in the label; losing a batch to a false duplicate must not happen.
    dotted = make_label("p", TABLE, [("cdc.orders", 0, 0, 9)], dialect)
    underscored = make_label("p", TABLE, [("cdc_orders", 0, 0, 9)], dialect)
    assert dotted != underscored
    assert dialect.label_pattern.fullmatch(dotted)
    assert dialect.label_pattern.fullmatch(underscored)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_long_names_are_shortened_to_128_but_keep_offsets(dialect: Dialect) -> None:
    table = TableRef("db", "t" * 200)
    label = make_label("p" * 64, table, [("topic." * 40, 12, 123456789012, 123456789999)], dialect)
    assert len(label) <= 128
    assert dialect.label_pattern.fullmatch(label)
    assert "-12-123456789012-123456789999-" in label


@pytest.mark.parametrize("dialect", DIALECTS)
def test_long_names_differing_only_at_the_end_get_distinct_labels(dialect: Dialect) -> None:
    base = "x" * 150
    one = make_label("p", TABLE, [(base + "a", 0, 0, 1)], dialect)
    two = make_label("p", TABLE, [(base + "b", 0, 0, 1)], dialect)
    assert one != two
    assert len(one) <= 128 and len(two) <= 128


@pytest.mark.parametrize("dialect", DIALECTS)
def test_non_ascii_names_give_valid_labels(dialect: Dialect) -> None:
    label = make_label("p", TableRef("db", "表"), [("заказы", 0, 0, 1)], dialect)
    assert dialect.label_pattern.fullmatch(label)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_multi_partition_label_is_independent_of_part_order(dialect: Dialect) -> None:
    parts = [("orders", 0, 10, 20), ("orders", 1, 5, 7), ("users", 0, 1, 1)]
    label = make_label("p", TABLE, parts, dialect)
    assert label == make_label("p", TABLE, list(reversed(parts)), dialect)
    assert "-3parts-" in label
    assert label != make_label("p", TABLE, parts[:2], dialect)
    assert dialect.label_pattern.fullmatch(label)


@pytest.mark.parametrize(
    "parts",
    [[], [("t", 0, 5, 4)], [("t", -1, 0, 1)], [("t", 0, -2, 1)]],
    ids=["empty", "last-before-first", "negative-partition", "negative-offset"],
)
def test_bad_parts_are_refused(parts: list[tuple[str, int, int, int]]) -> None:
    with pytest.raises(ValueError):
        make_label("p", TABLE, parts, DORIS)
