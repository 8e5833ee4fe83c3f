"""The example host's authentication, shaped the way the partitions router needs it.

``current_user`` returns the user or ``None`` and never raises for *missing* credentials, so
that a request carrying only ``X-Internal-Api-Key`` reaches the router's own check. It may
raise for *bad* credentials (an unknown token), as a host normally does."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .settings import demo_tokens

_bearer = HTTPBearer(auto_error=False)
_users = demo_tokens()


async def current_user(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> dict[str, Any] | None:
    if credentials is None:
        return None
    user = _users.get(credentials.credentials)
    if user is None:
        raise HTTPException(401, detail="invalid token", headers={"WWW-Authenticate": "Bearer"})
    return user


def is_admin(user: dict[str, Any]) -> bool:
    return bool(user["is_superuser"])
