"""``python -m plasticity``: the command line (:mod:`plasticity.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
