"""The Debian packages each kind of system test needs (see the `system` marker in tests/conftest.py)."""

import pytest

TEAM_SERVER = pytest.mark.system("postgresql")
SLURM = pytest.mark.system("munge", "mariadb-server", "slurmdbd", "slurmctld", "slurmd", "slurm-client")
