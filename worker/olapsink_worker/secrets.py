"""Secret values the worker needs, from wherever they were put.

Convention (the operator mounts there; people running the worker by hand use the environment):

- A ``secretKeyRef {name, key}`` of the sink is read from the file ``<SECRETS_DIR>/<name>/<key>``, where
  ``SECRETS_DIR`` is ``/etc/olapsink/secrets`` (override: ``OLAPSINK_SECRETS_DIR``). A Kubernetes Secret
  volume mounted at ``/etc/olapsink/secrets/<name>`` lays files out exactly like that, and the mounted files
  follow Secret updates.
- The database password can also come from ``OLAPSINK_DB_PASSWORD`` or from a file named by
  ``OLAPSINK_DB_PASSWORD_FILE``; these win over the mount so a person can override it when debugging.
- No ``passwordSecretRef`` and nothing in the environment: the empty password (Doris's ``root`` default).

A trailing newline in a file is dropped (``echo pw > file`` is the common way to write one); other
whitespace is kept, since it may be part of a password.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from olapsink_worker.errors import ConfigError, ConfigProblem

DEFAULT_SECRETS_DIR = "/etc/olapsink/secrets"
PASSWORD_ENV = "OLAPSINK_DB_PASSWORD"
PASSWORD_FILE_ENV = "OLAPSINK_DB_PASSWORD_FILE"
SECRETS_DIR_ENV = "OLAPSINK_SECRETS_DIR"


def secrets_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(SECRETS_DIR_ENV) or DEFAULT_SECRETS_DIR)


def secret_path(ref: Any, env: Mapping[str, str] | None = None) -> Path:
    """Where the value of ``ref`` (a SecretKeyRef) is mounted."""
    return secrets_dir(env) / ref.name / ref.key


def _read(path: Path, field: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            ConfigProblem(
                field,
                f"cannot read {path} ({exc.strerror}); mount the Secret there, or set "
                f"{PASSWORD_ENV} / {PASSWORD_FILE_ENV} when running by hand",
            )
        ) from exc
    return text[:-1] if text.endswith("\n") else text


def read_secret(ref: Any, field: str, env: Mapping[str, str] | None = None) -> str:
    """The value of one SecretKeyRef; ``field`` names the spec field for the error message."""
    return _read(secret_path(ref, env), field)


def database_password(sink: Any, env: Mapping[str, str] | None = None) -> str:
    """The password of the database user of this sink (see the module docstring for the order)."""
    env = os.environ if env is None else env
    if PASSWORD_ENV in env:
        return env[PASSWORD_ENV]
    if env.get(PASSWORD_FILE_ENV):
        return _read(Path(env[PASSWORD_FILE_ENV]), PASSWORD_FILE_ENV)
    section = "doris" if sink.flavor == "doris" else "starrocks"
    ref = getattr(sink.spec, section).password_secret_ref
    if ref is None:
        return ""
    return read_secret(ref, f"spec.{section}.passwordSecretRef", env)
