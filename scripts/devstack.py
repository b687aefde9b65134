#!/usr/bin/env python3
"""Dev stack for manual runs and demos.

    python scripts/devstack.py up|down|status|env|fetch [kafka] [mariadb]


Same as `python -m tests.devstack ...` from the repository root; see tests/devstack/cli.py.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.devstack.cli import main

if __name__ == "__main__":
    sys.exit(main())
