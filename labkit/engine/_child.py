"""Entry point of the engine child process of ``Scope(mode="process")``: ``python -m labkit.engine._child``."""

from __future__ import annotations

import sys

from labkit.engine._serve import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
