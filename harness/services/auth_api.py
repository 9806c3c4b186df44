"""The calls of MLflow's basic-auth REST API the team server needs: create a user, change a password,
give a user a permission on an experiment.

Plain HTTP on purpose: MLflow's own `AuthServiceClient` imports the whole server app (~10 s here)
for what is one request each.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.parse
import urllib.request

CREATE_USER = "/api/2.0/mlflow/users/create"
UPDATE_PASSWORD = "/api/2.0/mlflow/users/update-password"
GET_EXPERIMENT = "/api/2.0/mlflow/experiments/get-by-name"
GRANT = "/api/3.0/mlflow/users/permissions/grant"  # MLflow 3.17's per-user grants (the 2.0 ones are gone)
REVOKE = "/api/3.0/mlflow/users/permissions/revoke"
PERMISSIONS = ("READ", "EDIT", "MANAGE", "NO_PERMISSIONS")  # MLflow's names
# Basic auth sends `user:password`: a ':' in the name cuts it; control characters and spaces break the
# header or the logs. MLflow itself takes any string.
USERNAME = re.compile(r"[A-Za-z0-9._@+-]{1,64}")


class AuthError(RuntimeError):
    pass


class AlreadyExists(AuthError):
    pass


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), text)


def check_username(username: str) -> None:
    if not USERNAME.fullmatch(username):
        raise AuthError(
            f"user name {username!r} is not allowed: use 1-64 letters, digits and . _ @ + - "
            "(Basic auth cannot carry a ':', and names go into logs)"
        )


def _call(url: str, method: str, body: dict | None, username: str, password: str) -> dict:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    request = urllib.request.Request(
        url, data=None if body is None else json.dumps(body).encode(), method=method,
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        if error.code == 401:
            raise AuthError(f"not authenticated as {username}: wrong password") from None
        detail = error.read().decode(errors="replace")
        try:
            reply = json.loads(detail)
            detail = reply.get("message", detail)
            code = reply.get("error_code")
        except ValueError:
            code = None
        if code == "RESOURCE_ALREADY_EXISTS" or "already exists" in detail or "UniqueViolation" in detail:
            raise AlreadyExists(detail) from None
        if error.code == 403:
            raise AuthError(f"{username} may not do this (403): ask the admin or the owner") from None
        if error.code == 404 or code == "RESOURCE_DOES_NOT_EXIST":
            raise AuthError(first_line(detail)) from None
        raise AuthError(f"HTTP {error.code}: {first_line(detail)[:300]}") from None
    except urllib.error.URLError as error:
        raise AuthError(f"cannot reach {url}: {error.reason}") from None


def create_user(server_url: str, admin: str, admin_password: str, username: str, password: str) -> None:
    check_username(username)
    try:
        _call(
            server_url + CREATE_USER,
            "POST",
            {"username": username, "password": password},
            admin,
            admin_password,
        )
    except AlreadyExists:
        raise AuthError(
            f"user {username} exists: rotate its password instead (rotate-password --user)"
        ) from None


def grant(
    server_url: str, username: str, password: str, member: str, experiment: str, permission: str
) -> str:
    """Give `member` `permission` on the experiment named `experiment` (as `username`: the admin or
    the experiment's manager); the experiment's id."""
    permission = permission.upper()
    if permission not in PERMISSIONS:
        raise AuthError(
            f"permission {permission.lower()} is not allowed: use one of read, edit, manage, no_permissions"
        )
    query = urllib.parse.urlencode({"experiment_name": experiment})
    found = _call(f"{server_url}{GET_EXPERIMENT}?{query}", "GET", None, username, password)
    experiment_id = found["experiment"]["experiment_id"]
    resource = {"username": member, "resource_type": "experiment", "resource_id": experiment_id}
    try:
        _call(server_url + GRANT, "POST", resource | {"permission": permission}, username, password)
    except AlreadyExists:  # a grant is changed by revoking it first
        _call(server_url + REVOKE, "POST", resource, username, password)
        _call(server_url + GRANT, "POST", resource | {"permission": permission}, username, password)
    return experiment_id


def change_password(server_url: str, username: str, current: str, new: str) -> None:
    body = {"username": username, "password": new, "current_password": current}
    _call(server_url + UPDATE_PASSWORD, "PATCH", body, username, current)
