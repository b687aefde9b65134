"""The Schema Registry as the decoders see it: schemas by id, fetched once, compiled once.

``client_config`` turns ``spec.converter.schemaRegistry`` into confluent-kafka's client settings (a pure
function; secrets are read through ``olapsink_worker.secrets`` like every other secret of the sink).
``SchemaCache`` keeps what a decoder compiled from each schema id (a parsed Avro schema, a Protobuf
descriptor pool): a registered schema never changes, so an id is fetched from the registry once per process.

A schema that cannot be fetched is a ``RecordError`` for the record that names it: the errors policy
decides (dead-letter topic or stop), and the next record with that id asks the registry again, so a
registry that comes back is used at once. The client itself retries a few times before giving up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from olapsink_worker.errors import ConfigError, ConfigProblem, RecordError
from olapsink_worker.secrets import read_secret, secret_path

T = TypeVar("T")

REGISTRY_FIELD = "spec.converter.schemaRegistry"
# Whole-request timeout; the client's default is none at all, which would hang a poll loop forever.
REQUEST_TIMEOUT_S = 10
RETRIES = 2
_CACHE_SIZE = 1000


def client_config(registry: Any, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """confluent-kafka ``SchemaRegistryClient`` settings for a ``SchemaRegistrySpec``."""
    if not registry.url:
        raise ConfigError(ConfigProblem(f"{REGISTRY_FIELD}.url", "is required for avro/protobuf values"))
    conf: dict[str, Any] = {
        "url": registry.url,
        "timeout": REQUEST_TIMEOUT_S,
        "max.retries": RETRIES,
        "cache.capacity": _CACHE_SIZE,
    }
    if registry.basic_auth_secret_ref is not None:
        field = f"{REGISTRY_FIELD}.basicAuthSecretRef"
        user_info = read_secret(registry.basic_auth_secret_ref, field, env)
        if ":" not in user_info:
            raise ConfigError(ConfigProblem(field, "the secret must hold 'user:password'"))
        conf["basic.auth.user.info"] = user_info
    tls = registry.tls
    if tls is not None:
        if tls.skip_hostname_verification:
            raise ConfigError(
                ConfigProblem(
                    f"{REGISTRY_FIELD}.tls.skipHostnameVerification",
                    "is not supported by the worker's registry client; give the registry a certificate "
                    "whose name matches the URL",
                )
            )
        if tls.ca_secret_ref is not None:
            ca = secret_path(tls.ca_secret_ref, env)
            if not ca.is_file():
                raise ConfigError(
                    ConfigProblem(
                        f"{REGISTRY_FIELD}.tls.caSecretRef", f"no CA file at {ca}; mount the Secret"
                    )
                )
            conf["ssl.ca.location"] = str(ca)
    return conf


def registry_client(registry: Any, env: Mapping[str, str] | None = None) -> Any:
    # Imported here: the registry client pulls in authlib/httpx extras only sinks with a registry need.
    from confluent_kafka.schema_registry import SchemaRegistryClient

    try:
        return SchemaRegistryClient(client_config(registry, env))
    except ValueError as exc:
        raise ConfigError(ConfigProblem(f"{REGISTRY_FIELD}.url", str(exc))) from exc


class SchemaCache(Generic[T]):
    """Compiled schemas by id. ``compile(schema_id)`` fetches and compiles; its errors become RecordErrors
    naming the id."""

    def __init__(self, compile: Callable[[int], T], what: str) -> None:
        self._compile = compile
        self._what = what
        self._by_id: dict[int, T] = {}
        self._lock = threading.Lock()

    def __getitem__(self, schema_id: int) -> T:
        try:
            return self._by_id[schema_id]
        except KeyError:
            pass
        with self._lock:
            if schema_id not in self._by_id:
                try:
                    compiled = self._compile(schema_id)
                except RecordError:
                    raise
                except Exception as exc:  # registry HTTP errors, timeouts, unparsable schemas
                    raise RecordError(
                        f"cannot use {self._what} schema id {schema_id} from the registry: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                if len(self._by_id) >= _CACHE_SIZE:
                    self._by_id.clear()
                self._by_id[schema_id] = compiled
            return self._by_id[schema_id]

    def __len__(self) -> int:
        return len(self._by_id)
