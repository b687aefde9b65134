import sys

from tests.devstack.cli import main

sys.exit(main())
