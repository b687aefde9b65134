import pytest
from olapsink_worker.errors import ConfigError, RecordError
from olapsink_worker.route import Router
from olapsink_worker.tables import TableRef


def _targets(topic):
    if topic == "orders":
        return TableRef("db", "orders_tbl")
    raise KeyError(topic)


def test_topic_routing_is_cached_and_unknown_topics_are_config_errors():
    calls = []

    def target(topic):
        calls.append(topic)
        return _targets(topic)

    r = Router(target, default_database="db")
    assert r.table_for_topic("orders") == TableRef("db", "orders_tbl")
    assert r.table_for_topic("orders") == TableRef("db", "orders_tbl")
    assert calls == ["orders"]
    with pytest.raises(ConfigError, match=r"spec\.tables"):
        r.table_for_topic("other")


def test_field_routing_with_db_table_and_fallback():
    r = Router(_targets, default_database="db", table_field="tbl")
    assert r.by_field
    assert r.table_for_row("orders", b'{"tbl":"x"}') == TableRef("db", "x")
    assert r.table_for_row("orders", b'{"tbl":"other.y"}') == TableRef("other", "y")
    assert r.table_for_row("orders", b'{"id":1}') == TableRef("db", "orders_tbl")
    with pytest.raises(RecordError, match="not JSON"):
        r.table_for_row("orders", b"a,b,c")
    with pytest.raises(RecordError, match="must be a string"):
        r.table_for_row("orders", b'{"tbl":5}')


def test_debezium_topics_route_through_the_topic_map():
    """Debezium names topics ``<prefix>.<db or schema>.<table>``: the dots are not a db.table name."""
    from olapsink_worker.spec import parse_manifest

    doc = {
        "apiVersion": "olapsink.io/v1alpha1",
        "kind": "StarRocksSink",
        "metadata": {"name": "s"},
        "spec": {
            "kafka": {
                "bootstrapServers": "k:9092",
                "topics": ["test.public.customers", "mysql1.inventory.orders"],
            },
            "starrocks": {"httpUrls": ["fe:8030"], "user": "root", "database": "test"},
            "tables": [
                {"topic": "test.public.customers", "table": "customers"},
                {"topic": "mysql1.inventory.orders", "table": "shop.orders"},
            ],
        },
    }
    r = Router.for_sink(parse_manifest(doc))
    assert r.table_for_topic("test.public.customers") == TableRef("test", "customers")
    assert r.table_for_topic("mysql1.inventory.orders") == TableRef("shop", "orders")
