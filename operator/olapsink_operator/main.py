"""``olapsink-operator``: run the kopf operator over all namespaces or the listed ones."""

from __future__ import annotations

import argparse
import logging
import os

import kopf


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="olapsink-operator",
        description="Reconcile DorisSink/StarRocksSink objects into worker Deployments.",
    )
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        help="watch only this namespace (repeatable; also OLAPSINK_WATCH_NAMESPACES=a,b). Default: all.",
    )
    parser.add_argument(
        "--liveness", default="http://0.0.0.0:8080/healthz", help="kopf liveness endpoint URL"
    )
    parser.add_argument("--peering", default=None, help="kopf peering object name (default: standalone)")
    parser.add_argument("--priority", type=int, default=0, help="peering priority")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def watched_namespaces(args: argparse.Namespace) -> list[str]:
    names = list(args.namespace)
    names += [n.strip() for n in os.environ.get("OLAPSINK_WATCH_NAMESPACES", "").split(",") if n.strip()]
    return sorted(set(names))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    import olapsink_operator.handlers  # noqa: F401  (registers the handlers)

    namespaces = watched_namespaces(args)
    kopf.run(
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=args.peering is None,
        peering_name=args.peering,
        priority=args.priority,
        liveness_endpoint=args.liveness,
    )


if __name__ == "__main__":
    main()
