"""Which Secrets a sink references, where the worker finds each one, and under which env variable.

The worker contract: a referenced key is mounted read-only at
``/etc/olapsink/secrets/<secret-name>/<key>`` and the file's path is passed in an ``OLAPSINK_*_FILE``
variable named after the field (table in docs/operator.md). The values never pass through the
operator's logs, events or status; only their hash reaches the pod template.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

SECRETS_DIR = "/etc/olapsink/secrets"

# Field path prefixes renamed in env names: the database block is "DB" whatever the flavor, and
# grouping words that add nothing are dropped.
_ENV_SEGMENT_RENAMES = {"doris": "DB", "starrocks": "DB", "security": "", "converter": ""}


@dataclass(frozen=True)
class SecretRef:
    """One ``*SecretRef`` field of a spec: the Secret key it names and where the worker reads it."""

    path: str  # wire path inside spec, e.g. "doris.passwordSecretRef"
    secret: str
    key: str

    @property
    def mount_dir(self) -> str:
        return f"{SECRETS_DIR}/{self.secret}"

    @property
    def file(self) -> str:
        return f"{self.mount_dir}/{self.key}"

    @property
    def env_name(self) -> str:
        return env_name_for(self.path)


def env_name_for(path: str) -> str:
    """``doris.passwordSecretRef`` → ``OLAPSINK_DB_PASSWORD_FILE``;
    ``kafka.security.sasl.usernameSecretRef`` → ``OLAPSINK_KAFKA_SASL_USERNAME_FILE``."""
    words: list[str] = []
    for segment in path.split("."):
        segment = segment.removesuffix("SecretRef")
        if segment in _ENV_SEGMENT_RENAMES:
            words.append(_ENV_SEGMENT_RENAMES[segment])
        else:
            words.append(re.sub(r"(?<!^)(?=[A-Z])", "_", segment).upper())
    words = [word for word in words if word]
    return "OLAPSINK_" + "_".join(words) + "_FILE"


def find_secret_refs(spec_wire: Mapping[str, Any]) -> list[SecretRef]:
    """Every ``*SecretRef: {name, key}`` in a spec (camelCase wire dict), sorted by path.

    Walking the dict rather than naming fields keeps new reference fields mounted without an
    operator change.
    """
    return sorted(_walk(spec_wire, ""), key=lambda ref: ref.path)


def _walk(node: Any, path: str) -> Iterator[SecretRef]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "connectorConfig":
                continue  # raw Kafka Connect properties; the compat layer already translated them
            child = f"{path}.{key}" if path else str(key)
            if str(key).endswith("SecretRef") and isinstance(value, Mapping) and value.get("name"):
                yield SecretRef(child, str(value["name"]), str(value.get("key") or ""))
            else:
                yield from _walk(value, child)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}[{index}]")


def secrets_hash(refs: list[SecretRef], values: Mapping[tuple[str, str], bytes]) -> str:
    """A short digest over the referenced keys' values (``values[(secret, key)]``), order-free.

    Only the digest reaches the pod template: a rotated password rolls the workers without the
    password itself appearing anywhere the operator writes.
    """
    digest = hashlib.sha256()
    for secret, key in sorted({(ref.secret, ref.key) for ref in refs}):
        digest.update(f"{secret}\0{key}\0".encode())
        digest.update(values.get((secret, key), b"<missing>"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]
