"""Names and labels of a sink's children: fixed, so every reconcile finds what the last one made."""

from __future__ import annotations

import hashlib

GROUP = "olapsink.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
MANAGED_BY = "olapsink-operator"

# Pod-template annotations whose change rolls the workers.
CONFIG_HASH_ANNOTATION = f"{GROUP}/config-hash"
SECRETS_HASH_ANNOTATION = f"{GROUP}/secrets-hash"
AVRO_SCHEMAS_HASH_ANNOTATION = f"{GROUP}/avro-schemas-hash"
# Set by users on the sink; copied to the pod template so a new value rolls the workers.
RESTART_ANNOTATION = f"{GROUP}/restart"

_LABEL_VALUE_MAX = 63


def label_value(text: str) -> str:
    """A label value for ``text``: itself when it fits 63 characters, else a prefix plus a hash.

    Sink names may be 253 characters long but label values may not; the hash keeps two long names
    that share a prefix apart.
    """
    if len(text) <= _LABEL_VALUE_MAX:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{text[: _LABEL_VALUE_MAX - 11].rstrip('-.')}-{digest}"


def component(flavor: str) -> str:
    """``doris-sink`` or ``starrocks-sink``: keeps a DorisSink and a StarRocksSink of one name apart."""
    return f"{flavor}-sink"


def selector_labels(name: str, flavor: str) -> dict[str, str]:
    """Labels that select one sink's worker pods; never change them (Deployment selectors are immutable)."""
    return {
        "app.kubernetes.io/name": "olapsink-worker",
        "app.kubernetes.io/instance": label_value(name),
        "app.kubernetes.io/component": component(flavor),
    }


def common_labels(name: str, flavor: str) -> dict[str, str]:
    """Labels on every child of a sink (Kubernetes recommended labels)."""
    return {
        **selector_labels(name, flavor),
        "app.kubernetes.io/part-of": "olapsink",
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def selector_string(name: str, flavor: str) -> str:
    """The serialized selector for ``status.selector`` (the scale subresource's labelSelectorPath)."""
    return ",".join(f"{k}={v}" for k, v in selector_labels(name, flavor).items())


def worker_name(name: str, flavor: str) -> str:
    """Name of the Deployment and the PodDisruptionBudget."""
    return f"{name}-{flavor}-worker"


def config_name(name: str, flavor: str) -> str:
    """Name of the ConfigMap holding the normalised manifest."""
    return f"{name}-{flavor}-config"


def metrics_name(name: str, flavor: str) -> str:
    """Name of the metrics Service (a DNS label: 63 characters at most, so long names are hashed)."""
    return label_value(f"{name}-{flavor}-metrics")
