import sys

from harness.collector import as_command, imports_frozen

as_command()
with imports_frozen():  # MLflow, pandas, matplotlib (harness.collector)
    from harness.report.cli import main

try:
    sys.exit(main())
except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback through the figure workers
    print("harness.report: interrupted", file=sys.stderr)
    sys.exit(130)
