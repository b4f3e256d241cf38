"""``python -m acme``: the command line (see `acme.cli`)."""

import sys

from acme.cli import main

if __name__ == "__main__":
    sys.exit(main())
