"""Well-known binary (WKB) geometries → GeoJSON-shaped dicts, for Debezium's ``io.debezium.data.geometry.*``.

Debezium sends MySQL and PostGIS geometries as ``{wkb, srid}`` structs. The Doris connector parses the
WKB and writes ``{type, coordinates, srid}`` (``geometries`` for a collection), which is what a user can
query; raw WKB in a text column is not. Read here: OGC WKB in either byte order, ISO Z/M/ZM type codes
(1001, 2001, 3001 …) and PostGIS EWKB flags (Z, M, embedded SRID). Coordinates keep X, Y and Z; M is
dropped, as GeoJSON has no place for it.
"""

from __future__ import annotations

import struct
from typing import Any

_TYPES = {
    1: "Point",
    2: "LineString",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}
_EWKB_Z, _EWKB_M, _EWKB_SRID = 0x80000000, 0x40000000, 0x20000000
_MAX_DEPTH = 32  # collections of collections: bounded so a crafted value cannot exhaust the stack


class WkbError(ValueError):
    """The bytes are not a WKB geometry this reader understands."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise WkbError(f"WKB ends early at byte {self.pos} (needs {size} more)")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def geometry(self, depth: int = 0) -> tuple[dict[str, Any], int | None]:
        if depth > _MAX_DEPTH:
            raise WkbError("WKB collections nest too deeply")
        (order,) = self.take("B")
        if order not in (0, 1):
            raise WkbError(f"WKB byte-order mark {order} is neither 0 nor 1")
        end = "<" if order == 1 else ">"
        (code,) = self.take(end + "I")
        srid = None
        if code & _EWKB_SRID:
            (srid,) = self.take(end + "i")
        has_z = bool(code & _EWKB_Z)
        has_m = bool(code & _EWKB_M)
        code &= 0x0FFFFFFF
        iso, kind = divmod(code, 1000)
        has_z = has_z or iso in (1, 3)
        has_m = has_m or iso in (2, 3)
        name = _TYPES.get(kind)
        if name is None or iso > 3:
            raise WkbError(f"WKB geometry type code {code} is unknown")
        dims = 2 + has_z + has_m
        point_fmt = end + "d" * dims
        keep = 3 if has_z else 2

        def point() -> list[float]:
            return list(self.take(point_fmt)[:keep])

        def points() -> list[list[float]]:
            (n,) = self.take(end + "I")
            return [point() for _ in range(n)]

        def count() -> int:
            (n,) = self.take(end + "I")
            return int(n)

        if name == "Point":
            coords: Any = point()
            if all(c != c for c in coords):  # NaN coordinates: the empty point
                coords = []
            return {"type": name, "coordinates": coords}, srid
        if name == "LineString":
            return {"type": name, "coordinates": points()}, srid
        if name == "Polygon":
            return {"type": name, "coordinates": [points() for _ in range(count())]}, srid
        parts = [self.geometry(depth + 1)[0] for _ in range(count())]
        if name == "GeometryCollection":
            return {"type": name, "geometries": parts}, srid
        return {"type": name, "coordinates": [p.get("coordinates") for p in parts]}, srid


def geometry_from_wkb(data: bytes, srid: int | None = None) -> dict[str, Any]:
    """``{"type", "coordinates" | "geometries", "srid"}``; an SRID inside EWKB wins over ``srid``.

    Raises WkbError for bytes that are not one whole geometry."""
    reader = _Reader(data)
    geometry, embedded = reader.geometry()
    if reader.pos != len(data):
        raise WkbError(f"WKB has {len(data) - reader.pos} bytes after the geometry")
    geometry["srid"] = embedded if embedded is not None else srid
    return geometry
