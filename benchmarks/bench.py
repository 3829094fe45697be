"""Run the benchmark from a source checkout: ``python benchmarks/bench.py [options]``.

The comparison itself lives in the package (``cxent._bench``) so that ``python -m cxent bench``
works from an installed wheel; this script only forwards its arguments.
"""

import sys

from cxent.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
