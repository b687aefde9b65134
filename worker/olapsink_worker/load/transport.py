"""HTTP to the database: one pooled client per sink, timeouts on every call, redirects followed by hand,
FE failover, and the BE list for direct-to-BE loads.

Redirects are followed here, not by httpx: the FE's ``Location`` carries ``user:password@`` (stripped
here, never logged) and httpx drops ``Authorization`` when the origin changes, which the BE needs.
Thread-safe: loads of different tables may run at the same time from a few threads.
"""

from __future__ import annotations

import itertools
import json
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from olapsink_worker.errors import ConfigError, ConfigProblem, FatalSinkError, RetryableLoadError
from olapsink_worker.load.settings import LoaderSettings

REDIRECTS = frozenset({301, 302, 303, 307, 308})


class Unreachable(Exception):
    """Could not connect: the request never reached the server, so another endpoint may be tried."""


@dataclass(frozen=True)
class Response:
    """A final or redirect reply, read in full. ``location`` is absolute and without user info."""

    status: int
    content: bytes
    url: str
    location: str | None
    retry_after: float | None


def strip_userinfo(url: str) -> str:
    """``url`` without ``user:password@``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL, without user info: safe to log."""
    parts = urlsplit(strip_userinfo(url))
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def redirect_target(url: str, location: str) -> str:
    """Where a redirect from ``url`` leads: absolute, without user info.

    An https → http redirect is refused (as the Doris connector does with TLS on): following it would send
    the ``Authorization`` header, i.e. the password, in clear text.
    """
    target = strip_userinfo(urljoin(url, location))
    if urlsplit(url).scheme == "https" and urlsplit(target).scheme != "https":
        raise FatalSinkError(
            f"{origin(url)} redirected to {origin(target)}: refusing to send credentials over plain http; "
            "serve the BE over https or set spec.doris.tls.enabled: false",
            reason="ConfigError",
        )
    return target


def json_object(content: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one."""
    try:
        body = json.loads(content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def tls_verification(settings: LoaderSettings) -> ssl.SSLContext | bool:
    """How httpx verifies servers: the system trust store, or a context with the sink's CA file and
    host-name check when the endpoints use https. Skipping the host-name check still checks the chain."""
    if not any(e.startswith("https://") for e in settings.endpoints):
        return True
    try:
        context = ssl.create_default_context(cafile=settings.ca_file)
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(
            ConfigProblem("spec.doris.tls.caSecretRef", f"cannot use the CA file {settings.ca_file}: {error}")
        ) from error
    context.check_hostname = settings.check_hostname
    return context


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


#: Bodies above this go to httpx in slices of it (see _chunked).
BODY_SLICE = 1 << 20


def _chunked(content: bytes, headers: Mapping[str, str]) -> tuple[bytes | Iterator[bytes], dict[str, str]]:
    """The body as httpx should get it. httpcore sends a bytes body with ``send()`` and keeps the rest
    as ``buffer[n:]``: a new copy of the remainder after every partial send, quadratic in the body size
    (a 64 MiB StarRocks batch: ~0.5 CPU-s per load). Slices, with the length announced (so that it stays
    a Content-Length body, not chunked transfer), bound each copy to one slice."""
    if len(content) <= BODY_SLICE:
        return content, dict(headers)
    slices = (content[i : i + BODY_SLICE] for i in range(0, len(content), BODY_SLICE))
    return slices, {**headers, "Content-Length": str(len(content))}


class Transport:
    """Requests to one sink's FEs and BEs. ``client`` (tests) is used as given and not closed."""

    def __init__(self, settings: LoaderSettings, auth: str, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self.auth = auth
        self._owns_client = client is None
        self._client = client or self._new_client()
        self._lock = threading.Lock()
        self._fe_index = 0
        self._backends: list[str] = []
        self._backends_at = float("-inf")
        self._backend_cycle = itertools.count()

    def _new_client(self) -> httpx.Client:
        return httpx.Client(
            verify=tls_verification(self.settings),
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
            timeout=httpx.Timeout(self.settings.read_timeout, connect=self.settings.connect_timeout),
        )

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def request(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes, read: float
    ) -> Response:
        """One request, no redirects. Raises ``Unreachable`` when it could not connect (safe to send
        elsewhere) and ``RetryableLoadError`` when the connection broke after sending (it may have run)."""
        timeout = httpx.Timeout(read, connect=self.settings.connect_timeout)
        body, sized = _chunked(content, headers)
        try:
            response = self._client.request(
                method, url, headers=sized, content=body, timeout=timeout, follow_redirects=False
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise Unreachable(f"{origin(url)}: {type(error).__name__}: {error}") from error
        except httpx.TimeoutException as error:
            raise RetryableLoadError(
                f"{method} {origin(url)} timed out ({type(error).__name__}); the load may have run, "
                "the retry with the same label will tell",
                delay=1.0,
            ) from error
        except (httpx.TransportError, httpx.DecodingError) as error:
            raise RetryableLoadError(
                f"{method} {origin(url)}: connection lost ({type(error).__name__}: {error}); "
                "the retry with the same label will tell whether it loaded",
                delay=1.0,
            ) from error
        location = response.headers.get("location")
        return Response(
            status=response.status_code,
            content=response.content,
            url=url,
            location=redirect_target(url, location) if location else None,
            retry_after=_retry_after(response.headers),
        )

    def send(
        self, url: str, method: str, headers: Mapping[str, str], content: bytes, read: float
    ) -> Response:
        """Send, following up to ``max_redirects`` redirects with the same method, headers and body."""
        for _ in range(self.settings.max_redirects + 1):
            try:
                response = self.request(method, url, headers, content, read)
            except Unreachable as error:
                with self._lock:
                    self._backends_at = float("-inf")  # a BE may have gone; ask for the list again
                raise RetryableLoadError(f"cannot reach the load target {error}", delay=1.0) from error
            if response.status not in REDIRECTS or not response.location:
                return response
            url = response.location
        return response

    def on_any_fe(
        self,
        path: str,
        method: str,
        headers: Mapping[str, str],
        content: bytes,
        *,
        follow: bool,
        read: float | None = None,
    ) -> Response:
        """Send to the first FE that answers: sticky to the last good one, in order from there on
        connect errors and 5xx. With ``follow``, redirects are followed (errors after the FE answered
        are not failed over: the request may have run). ``read``: the read timeout, for calls that wait
        for the database's work (default: the sink's read timeout)."""
        read = self.settings.read_timeout if read is None else read
        with self._lock:
            start = self._fe_index
        endpoints = self.settings.endpoints
        failures: list[str] = []
        for i in range(len(endpoints)):
            index = (start + i) % len(endpoints)
            url = endpoints[index] + path
            try:
                response = self.request(method, url, headers, content, read)
            except Unreachable as error:
                failures.append(str(error))
                continue
            if follow and response.status in REDIRECTS and response.location:
                response = self.send(response.location, method, headers, content, read)
            if response.status >= 500:
                failures.append(f"{endpoints[index]}: HTTP {response.status}")
                continue
            with self._lock:
                self._fe_index = index
            return response
        raise RetryableLoadError(f"no FE answered: {'; '.join(failures)}", delay=1.0)

    def next_backend(self, backends_path: str) -> str:
        """A live BE's base URL, round-robin over the FE's list (cached ``backends_ttl`` seconds)."""
        with self._lock:
            fresh = time.monotonic() - self._backends_at < self.settings.backends_ttl
            backends = list(self._backends) if fresh else []
        if not backends:
            backends = self._fetch_backends(backends_path)
            with self._lock:
                self._backends, self._backends_at = backends, time.monotonic()
        return backends[next(self._backend_cycle) % len(backends)]

    def _fetch_backends(self, backends_path: str) -> list[str]:
        """Live BEs from ``GET /api/backends?is_alive=true``, as base URLs with the FE's scheme."""
        response = self.on_any_fe(backends_path, "GET", {"Authorization": self.auth}, b"", follow=True)
        body = json_object(response.content) if response.status == 200 else None
        if body is not None and "code" in body and "msg" in body:
            body = body.get("data") if isinstance(body.get("data"), dict) else None
        if body is None:
            raise RetryableLoadError(
                f"the FE's BE list is unreadable: HTTP {response.status} {response.content[:200]!r}",
                delay=1.0,
            )
        scheme = urlsplit(response.url).scheme
        backends = [
            f"{scheme}://{be['ip']}:{be['http_port']}"
            for be in body.get("backends", [])
            if isinstance(be, dict) and be.get("ip") and be.get("http_port") and be.get("is_alive", True)
        ]
        if not backends:
            raise RetryableLoadError("the FE lists no live BE (autoRedirect is false)", delay=2.0)
        return backends

    def fetch_text(self, url: str, max_bytes: int) -> str:
        """GET ``url`` (user info stripped) and return at most ``max_bytes`` of its body as text.

        Raises ``httpx.HTTPError`` on transport errors and ``ValueError`` on a non-200 reply.
        """
        url = strip_userinfo(url)
        timeout = httpx.Timeout(self.settings.read_timeout, connect=self.settings.connect_timeout)
        # The URL comes from a reply: with TLS configured, never send the password to a plain-http one.
        tls = any(e.startswith("https://") for e in self.settings.endpoints)
        headers = {} if tls and not url.startswith("https://") else {"Authorization": self.auth}
        with self._client.stream(
            "GET", url, headers=headers, timeout=timeout, follow_redirects=False
        ) as response:
            if response.status_code != 200:
                raise ValueError(f"{origin(url)} answered HTTP {response.status_code}")
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) >= max_bytes:
                    break
        return data[:max_bytes].decode("utf-8", errors="replace")
