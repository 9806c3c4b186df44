"""`python -m harness.server start|stop|status|rotate-password|add-user [--dir DIR]`: a team's MLflow server.

    python -m harness.server start                 # PostgreSQL + MLflow with basic auth, in ./team-server
    python -m harness.server start --host 0.0.0.0 --port 5000 \\
        --backend-store-uri postgresql://mlflow@db-host/mlflow --auth-db-uri postgresql://mlflow@db-host/mlflow_auth
    python -m harness.server status
    python -m harness.server rotate-password       # current one from MLFLOW_TRACKING_PASSWORD (or asked)
    python -m harness.server add-user alice        # admin's password from MLFLOW_TRACKING_PASSWORD (or asked)
    python -m harness.server grant bob alice-study edit   # as the admin or the experiment's owner
    python -m harness.server stop

Passwords (the admin's on the first start, a rotated one, a new user's) are printed once and stored
nowhere. Everything else (data, ports) stays in the directory, so `start` again resumes the same server.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import sys

from harness.services import auth_api
from harness.services.auth_api import AuthError
from harness.services.process import ServiceError
from harness.services.team_server import ADMIN, TeamServer

DEFAULT_DIR = "team-server"
EXIT_NOT_RUNNING = 3  # as `pg_ctl status`


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness.server", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start (or resume) the server and wait until it answers")
    start.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 for other machines)")
    start.add_argument("--port", type=int, help="default: the last start's, else 5000 if free")
    start.add_argument(
        "--backend-store-uri", help="an existing PostgreSQL database for runs (no own PostgreSQL)"
    )
    start.add_argument(
        "--auth-db-uri", help="an existing PostgreSQL database for users (with --backend-store-uri)"
    )
    start.add_argument(
        "--allowed-hosts", help="host names clients use, if not localhost or a private address"
    )
    commands.add_parser("stop", help="stop MLflow and the server's own PostgreSQL (data kept)")
    commands.add_parser("status", help="what runs, where, with which PIDs; exit 3 if not running")
    rotate = commands.add_parser(
        "rotate-password", help="give a user (default admin) a new generated password"
    )
    rotate.add_argument("--user", default=ADMIN)
    add = commands.add_parser("add-user", help="create a team member with a generated password")
    add.add_argument("name")
    grant = commands.add_parser(
        "grant", help="give a member read, edit, manage or no_permissions on an experiment"
    )
    grant.add_argument("member")
    grant.add_argument("experiment")
    grant.add_argument("permission", help="read, edit, manage or no_permissions")
    for command in commands.choices.values():
        command.add_argument(
            "--dir", default=DEFAULT_DIR, help=f"the server's directory (default ./{DEFAULT_DIR})"
        )
    return parser.parse_args(argv)


LOOPBACK = ("127.0.0.1", "localhost", "::1")
PLAIN_HTTP_WARNING = (
    "warning: Basic auth sends every password in clear over plain HTTP: let other machines reach this "
    "server only through TLS (a reverse proxy serving https in front of it), or over a network you trust"
)


def public_url(url: str, host: str) -> str:
    """The address other machines use: the host's name when the server listens on every address."""
    if host in ("0.0.0.0", "::"):
        return url.replace("127.0.0.1", socket.getfqdn(), 1)
    return url


def current_password(whose: str) -> str:
    """From MLFLOW_TRACKING_PASSWORD, else asked on the terminal."""
    if password := os.environ.get("MLFLOW_TRACKING_PASSWORD"):
        return password
    if not sys.stdin.isatty():
        raise AuthError(f"set MLFLOW_TRACKING_PASSWORD to {whose} current password")
    return getpass.getpass(f"{whose} current password: ")


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    server = TeamServer(args.dir)
    try:
        if args.command == "start":
            started = server.start(
                args.host, args.port, args.backend_store_uri, args.auth_db_uri, args.allowed_hosts
            )
            host = server.settings.read()["host"]
            url = public_url(started.url, host)
            print(f"team server: {url} (MLflow with basic auth; data in {server.directory})")
            print("pids: " + ", ".join(f"{name} {pid}" for name, pid in started.pids.items()))
            if started.admin_password:
                print(f"admin password (shown once, stored nowhere): {started.admin_password}")
            print(f"each user sets: MLFLOW_TRACKING_URI={url} MLFLOW_TRACKING_USERNAME=<name> "
                  "MLFLOW_TRACKING_PASSWORD=<password>")  # fmt: skip
            if host not in LOOPBACK:
                print(PLAIN_HTTP_WARNING)
        elif args.command == "stop":
            server.stop()
            print(f"team server stopped (data kept in {server.directory})")
        elif args.command == "status":
            status = server.status()
            for key, value in status.items():
                print(f"{key}: {value}")
            return 0 if status["healthy"] else EXIT_NOT_RUNNING
        elif args.command == "rotate-password":
            password = server.rotate_password(current_password(f"{args.user}'s"), args.user)
            print(f"new password for {args.user} (shown once, stored nowhere): {password}")
        elif args.command == "add-user":
            password = server.add_user(current_password("the admin's"), args.name)
            print(f"user {args.name} created; password (shown once, stored nowhere): {password}")
        elif args.command == "grant":
            who = os.environ.get("MLFLOW_TRACKING_USERNAME", ADMIN)
            password = current_password(f"{who}'s")
            experiment_id = auth_api.grant(
                server.url, who, password, args.member, args.experiment, args.permission
            )
            print(
                f"{args.member} may now {args.permission.lower()} "
                f"experiment {args.experiment} ({experiment_id})"
            )
    except (ServiceError, AuthError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
