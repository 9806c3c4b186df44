"""Make the README's screenshots from a real sweep, along the browser test's walk
(tests/support/browser_tour.py):

    python docs/make_screenshots.py            # runs `-m sweeps=betas` in a temporary directory

writes docs/runs_table.png (the MLflow UI's runs table, the sweep expanded, eval_mse/final_loss/lr
columns added), docs/models_page.png (the experiment's Models page) and docs/report.png (the top of
the report page). Needs Debian's chromium and the
`dev` extra (Playwright).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

# The walk is test machinery, not part of the installed package: it is imported from the checkout's
# tests/support, with the checkout's root on the path (`python docs/make_screenshots.py` from anywhere).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.browser_tour import make_sweep, take_tour  # noqa: E402

DOCS = Path(__file__).resolve().parent
SWEEP = ["sweeps=betas"]
README_PICTURES = {"runs_table.png", "models_page.png", "report.png"}  # the tour saves more pages


def main(arguments: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="screenshots-") as scratch:
        sweep = make_sweep(Path(scratch), *(arguments or SWEEP))
        tour = take_tour(sweep, screenshots=Path(scratch) / "screenshots")
        for path in tour.screenshots:
            if path.name not in README_PICTURES:
                continue
            shutil.copy(path, DOCS / path.name)
            print(f"wrote {DOCS / path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
