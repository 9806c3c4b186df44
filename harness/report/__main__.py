import sys

from harness.report.cli import main

try:
    sys.exit(main())
except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback through the figure workers
    print("harness.report: interrupted", file=sys.stderr)
    sys.exit(130)
