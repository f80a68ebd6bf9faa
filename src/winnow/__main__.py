"""``python -m winnow``: the ``winnow`` command (:mod:`winnow.cli`)."""

import sys

from winnow.cli import main

if __name__ == "__main__":
    sys.exit(main())
