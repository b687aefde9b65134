"""WKB → GeoJSON-shaped geometry (Debezium geometry structs), both byte orders, ISO and EWKB flags."""

import struct

import pytest
from olapsink_worker.wkb import WkbError, geometry_from_wkb


def _point(x, y, order="<"):
    return struct.pack(order + "BIdd", 1 if order == "<" else 0, 1, x, y)


def test_point_little_and_big_endian():
    assert geometry_from_wkb(_point(1.5, -2.0), 0) == {"type": "Point", "coordinates": [1.5, -2.0], "srid": 0}
    assert geometry_from_wkb(_point(3.0, 4.0, ">"), 4326)["coordinates"] == [3.0, 4.0]


def test_linestring_polygon_and_multipolygon():
    line = struct.pack("<BII4d", 1, 2, 2, 0, 0, 1, 1)
    assert geometry_from_wkb(line)["coordinates"] == [[0, 0], [1, 1]]
    ring = [0, 0, 1, 0, 1, 1, 0, 0]
    polygon = struct.pack("<BIII8d", 1, 3, 1, 4, *ring)
    assert geometry_from_wkb(polygon)["coordinates"] == [[[0, 0], [1, 0], [1, 1], [0, 0]]]
    multi = struct.pack("<BII", 1, 6, 2) + polygon + polygon
    assert geometry_from_wkb(multi)["coordinates"] == [[[[0, 0], [1, 0], [1, 1], [0, 0]]]] * 2


def test_collection_lists_its_geometries():
    collection = struct.pack("<BII", 1, 7, 2) + _point(1, 2) + struct.pack("<BII4d", 1, 2, 2, 0, 0, 1, 1)
    out = geometry_from_wkb(collection, 0)
    assert out["type"] == "GeometryCollection"
    assert [g["type"] for g in out["geometries"]] == ["Point", "LineString"]


def test_iso_z_and_ewkb_srid_and_m_dropped():
    assert geometry_from_wkb(struct.pack("<BI3d", 1, 1001, 1, 2, 3))["coordinates"] == [1, 2, 3]
    assert geometry_from_wkb(struct.pack("<BI3d", 1, 2001, 1, 2, 9))["coordinates"] == [1, 2]  # M
    ewkb = struct.pack("<BIidd", 1, 0x20000001, 3857, 5, 6)
    assert geometry_from_wkb(ewkb, 0) == {"type": "Point", "coordinates": [5, 6], "srid": 3857}


def test_empty_point_has_no_coordinates():
    assert geometry_from_wkb(_point(float("nan"), float("nan")))["coordinates"] == []


@pytest.mark.parametrize(
    "data",
    [b"", b"\x02\x01\x00\x00\x00", _point(1, 2)[:-1], _point(1, 2) + b"\x00", struct.pack("<BI", 1, 99)],
    ids=["empty", "bad-order", "short", "trailing", "unknown-type"],
)
def test_garbage_is_a_wkb_error(data):
    with pytest.raises(WkbError):
        geometry_from_wkb(data)
