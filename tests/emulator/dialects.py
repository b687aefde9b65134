"""What differs between the Doris and the StarRocks Stream Load dialects, as plain data.

Sources: /work/shared/reference/doris.md §8 and starrocks.md §2, §5 and its summary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Flavor(StrEnum):
    DORIS = "doris"
    STARROCKS = "starrocks"


@dataclass(frozen=True)
class Dialect:
    flavor: Flavor
    label_pattern: re.Pattern[str]
    # Finished labels are remembered this long (Doris streaming_label_keep_max_second,
    # StarRocks label_keep_max_second).
    label_keep_seconds: float
    # The plan-time field of the load reply.
    plan_time_field: str
    # Header naming the CSV row separator.
    row_delimiter_header: str
    # Header switching on partial updates.
    partial_update_header: str
    # Message prefixes ("[CODE]detail" in Doris, bare text in StarRocks).
    coded_messages: bool
    # Key models a table may be created with; the first is the keyed (upsert) model.
    keyed_models: tuple[str, ...]
    # Doris puts user:password@ into the FE's 307 Location; StarRocks does not.
    location_userinfo: bool
    # The keysType reported by GET /api/{db}/{table}/_schema, per model.
    keys_type: dict[str, str]

    def message(self, code: str, detail: str) -> str:
        """Render an error message the way this dialect's BE does."""
        return f"[{code}]{detail}" if self.coded_messages else detail

    def label_error(self, label: str) -> str | None:
        if self.label_pattern.fullmatch(label):
            return None
        detail = f"Label format error. regex: {self.label_pattern.pattern}, label: {label}"
        if self.coded_messages:
            return self.message("ANALYSIS_ERROR", f"TStatus: errCode = 2, detailMessage = {detail}")
        return detail


DORIS = Dialect(
    flavor=Flavor.DORIS,
    label_pattern=re.compile(r"^[-_A-Za-z0-9:]{1,128}$"),
    label_keep_seconds=43200.0,
    plan_time_field="StreamLoadPutTimeMs",
    row_delimiter_header="line_delimiter",
    partial_update_header="partial_columns",
    coded_messages=True,
    location_userinfo=True,
    keyed_models=("UNIQUE",),
    keys_type={"DUPLICATE": "DUP_KEYS", "UNIQUE": "UNIQUE_KEYS"},
)

STARROCKS = Dialect(
    flavor=Flavor.STARROCKS,
    # Java's \w is ASCII-only, hence re.ASCII.
    label_pattern=re.compile(r"^[-\w]{1,128}$", re.ASCII),
    label_keep_seconds=259200.0,
    plan_time_field="StreamLoadPlanTimeMs",
    row_delimiter_header="row_delimiter",
    partial_update_header="partial_update",
    coded_messages=False,
    location_userinfo=False,
    keyed_models=("PRIMARY", "UNIQUE"),
    keys_type={"DUPLICATE": "DUP_KEYS", "UNIQUE": "UNIQUE_KEYS", "PRIMARY": "PRIMARY_KEYS"},
)


def dialect_for(flavor: Flavor | str) -> Dialect:
    return DORIS if Flavor(flavor) is Flavor.DORIS else STARROCKS
