"""A one-node SLURM cluster with accounting, in a directory: munged, MariaDB, slurmdbd, slurmctld, slurmd.

Nothing is written to /etc: every daemon, client and job finds its config through
`SLURM_CONF=<dir>/etc/slurm.conf` (slurmdbd reads slurmdbd.conf beside it). Accounting is not optional:
without slurmdbd, `sacct` fails and submitit reports every job's state as UNKNOWN, so a cancelled job
never finishes from the client's side. No cgroups (linuxproc tracking, no task plugin): it runs in
containers without systemd. Ports are free ones, kept in `<dir>/state.json`; job state survives a
restart on the same directory.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
from dataclasses import dataclass

import psutil

from harness.services.process import (
    Service,
    ServiceError,
    chown,
    owned_dir,
    run,
    saved_port,
    stop_pid,
    traversable,
    wait_until,
    which,
)
from tests.support.mariadb import MariaDB
from tests.support.munge import Munge

USER = "slurm"
PARTITION = "debug"
ACCOUNTING_DATABASE = "slurm_acct_db"


def node_hardware() -> dict[str, str]:
    """`slurmd -C`'s view of this machine: CPUs, RealMemory, ..."""
    line = run([which("slurmd"), "-C"], "slurmd -C").stdout.splitlines()[0]
    return dict(item.split("=", 1) for item in line.split())


@dataclass
class SlurmDaemon(Service):
    """slurmdbd, slurmctld or slurmd, in `<cluster>/<name>/`: it forks itself and writes the pid file that
    the cluster's config names for it."""

    name: str = "slurmd"

    def _start(self, argv: list[str], env: dict[str, str], seconds: float) -> None:
        run(argv, self.name, log=self.log, env={**os.environ, **env}, cwd=self.directory)
        wait_until(lambda: self.pid is not None, seconds, self.name, log=self.log)


@dataclass
class SlurmCluster(Service):
    """The cluster as a whole: five daemons, the ports of the SLURM ones in its `state.json`."""

    name = "slurm"
    files = {"etc": "etc", "conf": "etc/slurm.conf", "dbd_conf": "etc/slurmdbd.conf"}

    def __post_init__(self):
        super().__post_init__()
        self.munge = Munge(self.directory / "munge")
        self.mariadb = MariaDB(self.directory / "mariadb")
        self.daemons = {
            name: SlurmDaemon(self.directory / name, name) for name in ("slurmdbd", "slurmctld", "slurmd")
        }

    @property
    def env(self) -> dict[str, str]:
        """What a client (sbatch, sacct, submitit) needs in its environment to use this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def pids(self) -> dict[str, int | None]:
        daemons = {name: daemon.pid for name, daemon in self.daemons.items()}
        return {"munged": self.munge.pid, "mariadbd": self.mariadb.pid, **daemons}

    def start(self, seconds: float = 60) -> dict[str, int]:
        """Start every daemon not running yet, in order, and wait until the node is idle; their PIDs."""
        self.directory.mkdir(parents=True, exist_ok=True)
        traversable(self.directory)
        self.munge.start()
        self.mariadb.start()
        password = self._secret("accounting-password")
        self.mariadb.ensure_user_and_database(USER, password, ACCOUNTING_DATABASE)
        self._write_configs(password)
        self.daemons["slurmdbd"].start([which("slurmdbd")], self.env, seconds)
        wait_until(self._accounting_answers, seconds, "slurmdbd", log=self.daemons["slurmdbd"].log)
        fresh = not any((self.directory / "state").iterdir())
        self.daemons["slurmctld"].start(
            [which("slurmctld"), "-i", *(["-c"] if fresh else [])], self.env, seconds
        )
        self.daemons["slurmd"].start([which("slurmd")], self.env, seconds)
        wait_until(self._node_idle, seconds, "slurm node idle", log=self.daemons["slurmctld"].log)
        return {name: pid for name, pid in self.pids().items() if pid is not None}

    def stop(self, seconds: float = 60) -> None:
        """Cancel what is queued or running, then stop the daemons by their PIDs, in reverse order."""
        self._drain(seconds)
        for name in ("slurmd", "slurmctld", "slurmdbd"):
            self.daemons[name].stop(seconds)
        for pid in self.job_step_pids():  # a step that could not report its end to a stopped slurmd
            stop_pid(pid, 5)
        self.mariadb.stop(seconds)
        self.munge.stop(seconds)
        if running := {name: pid for name, pid in self.pids().items() if pid is not None}:
            raise ServiceError(f"still running after stop: {running}")

    def job_step_pids(self) -> list[int]:
        """PIDs of this cluster's slurmstepd processes (found by the SLURM_CONF in their environment)."""
        return [
            process.pid
            for process in psutil.process_iter(["name", "environ"])
            if process.info["name"] == "slurmstepd"
            and (process.info["environ"] or {}).get("SLURM_CONF") == str(self.conf)
        ]

    def _drain(self, seconds: float) -> None:
        if self.daemons["slurmctld"].pid is None:
            return
        if self.client("squeue", "-h", "-o", "%A").stdout.split():
            self.client("scancel", "--full", "--partition", PARTITION)
        wait_until(lambda: not self.client("squeue", "-h", "-o", "%A").stdout.split(), seconds, "jobs to end")

    def client(self, *argv: str) -> subprocess.CompletedProcess:
        """Run a SLURM client command (sinfo, sacct, scancel, ...) against this cluster."""
        return subprocess.run(
            [which(argv[0]), *argv[1:]], capture_output=True, text=True, stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env}, timeout=60,
        )  # fmt: skip

    def _secret(self, name: str) -> str:
        path = self.directory / name
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(16))
        return path.read_text().strip()

    def _accounting_answers(self) -> bool:
        return self.client("sacctmgr", "-n", "-P", "show", "cluster").returncode == 0

    def _node_idle(self) -> bool:
        result = self.client("sinfo", "-h", "-o", "%t")
        return result.returncode == 0 and result.stdout.strip() in ("idle", "mix", "alloc")

    def _write_configs(self, password: str) -> None:
        ports = {
            key: saved_port(self.state, key) for key in ("slurmctld_port", "slurmd_port", "slurmdbd_port")
        }
        state = owned_dir(self.directory / "state", USER)
        spool = owned_dir(self.directory / "spool", "root")
        for directory in (self.etc, *(daemon.directory for daemon in self.daemons.values())):
            owned_dir(directory, USER, 0o755)
        host = socket.gethostname().split(".")[0]
        hardware = node_hardware()
        slurmdbd, slurmctld, slurmd = self.daemons.values()
        auth = f"AuthType=auth/munge\nAuthInfo=socket={self.munge.socket}\n"
        self.conf.write_text(
            f"ClusterName=harness\nSlurmctldHost={host}(127.0.0.1)\nSlurmUser={USER}\n{auth}"
            "CredType=cred/munge\n"
            f"SlurmctldPort={ports['slurmctld_port']}\nSlurmdPort={ports['slurmd_port']}\n"
            f"StateSaveLocation={state}\nSlurmdSpoolDir={spool}\n"
            f"SlurmctldPidFile={slurmctld.pid_file}\nSlurmdPidFile={slurmd.pid_file}\n"
            f"SlurmctldLogFile={slurmctld.log}\nSlurmdLogFile={slurmd.log}\n"
            "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nJobAcctGatherType=jobacct_gather/linux\n"
            "AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=127.0.0.1\n"
            f"AccountingStoragePort={ports['slurmdbd_port']}\nAccountingStoragePass={self.munge.socket}\n"
            "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\nSchedulerType=sched/backfill\n"
            "MpiDefault=none\nReturnToService=2\nKillWait=10\nOverTimeLimit=0\nInactiveLimit=0\nMinJobAge=300\n"
            f"NodeName={host} NodeAddr=127.0.0.1 CPUs={hardware['CPUs']} "
            f"RealMemory={hardware['RealMemory']} State=UNKNOWN\n"
            f"PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP\n"
        )
        self.dbd_conf.touch(mode=0o600)
        self.dbd_conf.write_text(
            f"{auth}DbdHost={host}\nDbdAddr=127.0.0.1\nDbdPort={ports['slurmdbd_port']}\nSlurmUser={USER}\n"
            f"PidFile={slurmdbd.pid_file}\nLogFile={slurmdbd.log}\n"
            f"StorageType=accounting_storage/mysql\nStorageHost=127.0.0.1\nStoragePort={self.mariadb.port}\n"
            f"StorageUser={USER}\nStoragePass={password}\nStorageLoc={ACCOUNTING_DATABASE}\n"
        )
        self.dbd_conf.chmod(0o600)
        chown(self.dbd_conf, USER)
        self.conf.chmod(0o644)
