"""The Schema Registry as the decoders see it: schemas by id, fetched once, compiled once.

``client_config`` turns ``spec.converter.schemaRegistry`` into confluent-kafka's client settings (a pure
function; secrets are read through ``olapsink_worker.secrets`` like every other secret of the sink).
``SchemaCache`` keeps what a decoder compiled from each schema id (a parsed Avro schema, a Protobuf
descriptor pool): a registered schema never changes, so an id is fetched from the registry once per process.

A schema that cannot be fetched is classified (``classify``), because only one kind is the record's fault:

- ``unusable``: the registry has no such id (404 with error code 40401/40402/40403), or the schema does
  not parse or compile: ``SchemaUnusableError``, a ``RecordError`` the errors policy decides on.
- ``unavailable``: connection refused or reset, a timeout, HTTP 408, 429 or 5xx:
  ``RegistryUnavailableError``; the engine holds the partition back and retries (formats/outage.py).
- ``config``: 401/403, other 4xx, a TLS failure, a URL that is not a registry: every record would fail
  alike, so ``RegistryConfigError`` stops the sink and says which ``spec.converter.schemaRegistry`` field
  to check.

The decoders' client does not retry by itself (``retries=0``): its retries would sleep in the engine loop,
while the engine's backoff waits without holding up other partitions, loads or commits.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Generic, Literal, TypeVar

from olapsink_worker.errors import (
    ConfigError,
    ConfigProblem,
    RecordError,
    RegistryConfigError,
    RegistryUnavailableError,
    SchemaUnusableError,
)
from olapsink_worker.secrets import read_secret, secret_path

T = TypeVar("T")

REGISTRY_FIELD = "spec.converter.schemaRegistry"
# Whole-request timeout; the client's default is none at all, which would hang a poll loop forever.
REQUEST_TIMEOUT_S = 10
# The client's own retries of transient failures: none. They would sleep inside the loop; the engine
# retries an unavailable registry with its own backoff while the loop runs (see the module docstring).
RETRIES = 0
_CACHE_SIZE = 1000
# After a failure of the "unavailable" kind, schemas not yet cached fail at once for this long instead of
# asking again: a run of records, or several partitions, naming the schema must not each wait out a
# timeout. The engine's retries are spaced further apart than this (outage.py).
FAIL_FAST_S = 0.5
# Registry error codes for "no such schema id / subject / version": the record names what does not exist.
_NOT_FOUND_CODES = frozenset({40401, 40402, 40403})
_RETRIABLE_STATUS = frozenset({408, 429})

Kind = Literal["unusable", "unavailable", "config"]


def client_config(
    registry: Any, env: Mapping[str, str] | None = None, retries: int = RETRIES
) -> dict[str, Any]:
    """confluent-kafka ``SchemaRegistryClient`` settings for a ``SchemaRegistrySpec``."""
    if not registry.url:
        raise ConfigError(ConfigProblem(f"{REGISTRY_FIELD}.url", "is required for avro/protobuf values"))
    conf: dict[str, Any] = {
        "url": registry.url,
        "timeout": REQUEST_TIMEOUT_S,
        "max.retries": retries,
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


def registry_client(registry: Any, env: Mapping[str, str] | None = None, retries: int = RETRIES) -> Any:
    # Imported here: the registry client pulls in authlib/httpx extras only sinks with a registry need.
    from confluent_kafka.schema_registry import SchemaRegistryClient

    try:
        return SchemaRegistryClient(client_config(registry, env, retries))
    except ValueError as exc:
        raise ConfigError(ConfigProblem(f"{REGISTRY_FIELD}.url", str(exc))) from exc


def classify(exc: BaseException) -> Kind:
    """Whose fault a failure to fetch or compile a schema is (see the module docstring)."""
    import httpx
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    if isinstance(exc, SchemaRegistryError):
        status = exc.http_status_code
        if status == 404 and exc.error_code in _NOT_FOUND_CODES:
            return "unusable"
        if status in _RETRIABLE_STATUS or status >= 500:
            return "unavailable"
        return "config"  # 401/403, a 404 without a registry error code (not a registry URL), other 4xx
    if _tls_failure(exc) or isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return "config"
    if isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError)):
        return "unavailable"
    if _raised_in_registry_client(exc):
        # The URL answered 2xx, but not as a registry does (an HTML page, an empty body, JSON of another
        # shape): every record would fail alike, so it is the configuration, not the record.
        return "config"
    return "unusable"  # the schema text: JSON, Avro or descriptor errors


def _raised_in_registry_client(exc: BaseException) -> bool:
    """Whether confluent-kafka's registry client itself failed while reading a reply (as opposed to our
    code compiling the schema text it returned)."""
    tb = exc.__traceback__
    while tb is not None:
        if "confluent_kafka/schema_registry/" in tb.tb_frame.f_code.co_filename.replace("\\", "/"):
            return True
        tb = tb.tb_next
    return False


def _tls_failure(exc: BaseException) -> bool:
    """A certificate or protocol mismatch anywhere in the chain (httpx wraps the ssl error twice). A TLS
    connection cut short (EOF) is an outage, not a configuration."""
    seen: set[int] = set()
    at: BaseException | None = exc
    while at is not None and id(at) not in seen:
        seen.add(id(at))
        if isinstance(at, ssl.SSLError) and not isinstance(at, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
            return True
        at = at.__cause__ or at.__context__
    return False


def _config_advice(exc: BaseException, url: str) -> str:
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    if isinstance(exc, SchemaRegistryError) and exc.http_status_code in (401, 403):
        return (
            f"the schema registry {url} refuses the worker (HTTP {exc.http_status_code}): check the "
            f"user:password in the Secret of {REGISTRY_FIELD}.basicAuthSecretRef and that this user may read "
            "schemas"
        )
    if _tls_failure(exc):
        return (
            f"TLS to the schema registry {url} failed: check {REGISTRY_FIELD}.tls.caSecretRef (the CA that "
            "signed the registry's certificate), that the certificate names the URL's host, and that "
            f"{REGISTRY_FIELD}.url says https only for a registry that speaks TLS"
        )
    return (
        f"{url} does not answer as a schema registry: check {REGISTRY_FIELD}.url (scheme, host, port, path)"
    )


class SchemaCache(Generic[T]):
    """Compiled schemas by id. ``compile(schema_id)`` fetches and compiles; its errors are classified
    (``classify``) and raised as SchemaUnusableError (a RecordError), RegistryUnavailableError or
    RegistryConfigError, each naming the id and ``url``."""

    def __init__(
        self,
        compile: Callable[[int], T],
        what: str,
        url: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._compile = compile
        self._what = what
        self.url = url or "(unknown URL)"
        self._clock = clock
        self._by_id: dict[int, T] = {}
        self._lock = threading.Lock()
        # (until when misses fail at once, the failure they repeat): see FAIL_FAST_S.
        self._down: tuple[float, str] | None = None

    def __getitem__(self, schema_id: int) -> T:
        try:
            return self._by_id[schema_id]
        except KeyError:
            pass
        with self._lock:
            if schema_id not in self._by_id:
                down = self._down
                if down is not None and self._clock() < down[0]:
                    raise RegistryUnavailableError(down[1], url=self.url, schema_id=schema_id)
                try:
                    compiled = self._compile(schema_id)
                except RecordError:
                    raise
                except Exception as exc:  # registry HTTP errors, timeouts, unparsable schemas
                    raise self._failed(schema_id, exc) from exc
                self._down = None
                if len(self._by_id) >= _CACHE_SIZE:
                    self._by_id.clear()
                self._by_id[schema_id] = compiled
            return self._by_id[schema_id]

    def __len__(self) -> int:
        return len(self._by_id)

    def _failed(self, schema_id: int, exc: Exception) -> Exception:
        what = f"{type(exc).__name__}: {exc}"
        kind = classify(exc)
        if kind == "unavailable":
            message = (
                f"schema registry {self.url} is unavailable ({what}) for {self._what} schema id {schema_id}"
            )
            self._down = (self._clock() + FAIL_FAST_S, message)
            return RegistryUnavailableError(message, url=self.url, schema_id=schema_id)
        if kind == "config":
            return RegistryConfigError(
                f"cannot read {self._what} schema id {schema_id}: {_config_advice(exc, self.url)} ({what}); "
                "every record would fail alike, so the sink stops with its offsets kept"
            )
        return SchemaUnusableError(f"cannot use {self._what} schema id {schema_id} from the registry: {what}")
