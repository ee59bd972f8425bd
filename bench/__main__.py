"""``python -m bench`` -> ``bench.cli.main()``."""

import sys

from bench.cli import main_entry

if __name__ == "__main__":
    sys.exit(main_entry())
