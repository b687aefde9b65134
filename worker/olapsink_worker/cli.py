"""The ``olapsink`` command: convert Kafka Connect sink configs into sink manifests, and validate manifests.

    olapsink convert FILE [--worker connect-standalone.properties] [--bootstrap-servers HOST:PORT] [-o OUT]
    olapsink validate FILE...

Exit status: 0 success, 1 invalid input (every problem printed with its path), 2 usage or I/O error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

import yaml

from olapsink_worker.errors import ConfigError, ConfigProblem
from olapsink_worker.spec import compat
from olapsink_worker.spec.connect_files import parse_properties, read_connector_config
from olapsink_worker.spec.convert import convert_connector_config, render_conversion, secret_hints
from olapsink_worker.spec.manifest import KINDS, parse_manifest


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "convert":
            return _convert(args, out, err)
        return _validate(args.files, out, err)
    except OSError as exc:
        print(f"olapsink: {exc}", file=err)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="olapsink", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser(
        "convert",
        help="turn a Doris/StarRocks connector config into a sink manifest",
        description="FILE is a connector .properties file, a Kafka Connect REST JSON body, or the curl "
        "command that posts it. Literal passwords are replaced by Secret references.",
    )
    convert.add_argument("file", type=Path)
    convert.add_argument(
        "--worker",
        type=Path,
        help="the Connect worker's properties (connect-standalone.properties): bootstrap.servers, "
        "security and converter defaults",
    )
    convert.add_argument("--bootstrap-servers", help="Kafka brokers, when neither file has bootstrap.servers")
    convert.add_argument("--name", help="metadata.name (default: the connector name)")
    convert.add_argument("--namespace", help="metadata.namespace")
    convert.add_argument(
        "--resume-connect-offsets",
        action="store_true",
        help="use the connector's consumer group connect-<name>, so the sink resumes from the offsets "
        "Kafka Connect committed (stop the connector first)",
    )
    convert.add_argument("-o", "--output", type=Path, help="write the manifest here instead of stdout")
    validate = commands.add_parser(
        "validate", help="validate sink manifests", description="Print every problem with its field path."
    )
    validate.add_argument("files", type=Path, nargs="+")
    return parser


def _convert(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        name, config = read_connector_config(args.file.read_text(encoding="utf-8"))
    except ConfigError as exc:  # not JSON / properties / a curl command we can read
        _print_problems(str(args.file), exc.problems, err)
        return 1
    worker = parse_properties(args.worker.read_text(encoding="utf-8")) if args.worker else None
    connector_name = args.name or name
    try:
        conversion = convert_connector_config(
            config,
            name=connector_name,
            namespace=args.namespace,
            worker_config=worker,
            bootstrap_servers=args.bootstrap_servers,
            group_id=f"connect-{name}" if args.resume_connect_offsets and name else None,
        )
    except ConfigError as exc:
        _print_problems(str(args.file), exc.problems, err)
        if any(p.path == "spec.kafka.bootstrapServers" for p in exc.problems):
            print(
                "hint: bootstrap.servers lives in the Connect worker config; pass it with --worker FILE "
                "or --bootstrap-servers HOST:PORT",
                file=err,
            )
        return 1
    text = render_conversion(conversion, args.file.name)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        out.write(text)
    for note in conversion.notes:
        print(f"note: {note}", file=err)
    for hint in secret_hints(conversion):
        print(f"action needed: {hint}", file=err)
    return 0


def _validate(files: list[Path], out: TextIO, err: TextIO) -> int:
    status = 0
    for path in files:
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
        except yaml.YAMLError as exc:
            _print_problems(str(path), [ConfigProblem("", f"not valid YAML: {exc}")], err)
            status = 1
            continue
        sinks = [d for d in docs if isinstance(d, dict) and d.get("kind") in KINDS]
        if not sinks:
            _print_problems(
                str(path), [ConfigProblem("kind", "no DorisSink or StarRocksSink in this file")], err
            )
            status = 1
        for doc in sinks:
            status = max(status, _validate_one(str(path), doc, out, err))
    return status


def _validate_one(path: str, doc: dict[str, Any], out: TextIO, err: TextIO) -> int:
    try:
        sink = parse_manifest(doc)
    except ConfigError as exc:
        name = doc.get("metadata", {}).get("name") if isinstance(doc.get("metadata"), dict) else None
        _print_problems(f"{path} ({doc.get('kind')} {name})", exc.problems, err)
        return 1
    config = sink.spec.connector_config
    if config:
        for note in compat.translate(sink.flavor, config).notes:
            print(f"{path}: note: {note}", file=err)
    print(f"{path}: {sink.kind} {sink.metadata.namespace}/{sink.metadata.name} is valid", file=out)
    return 0


def _print_problems(where: str, problems: list[ConfigProblem], err: TextIO) -> None:
    for problem in problems:
        print(f"{where}: {problem}", file=err)


if __name__ == "__main__":
    sys.exit(main())
