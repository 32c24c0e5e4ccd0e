"""The desk page's settings (SPEC §13): what `functions/desk/page.py`'s `render_page` is given.

`{"timezone": DISPLAY_TIMEZONE, "auth": null}` on the local stack (no sign-in), and in AWS
`"auth": {"domain", "client_id", "redirect_uri", "logout_uri", "scopes"}`: the Cognito user
pool's hosted sign-in, where the page signs in with the authorization code flow and PKCE. None
of it is secret (a public app client has no secret); the page holds no data: every data route
it calls needs the JWT.
"""

from __future__ import annotations

from typing import Any

from lift_alerts.platform.config import Settings


def page_config(settings: Settings) -> dict[str, Any]:
    sign_in = settings.desk_sign_in
    auth = (
        {
            "domain": sign_in.domain,
            "client_id": sign_in.client_id,
            "redirect_uri": sign_in.redirect_uri,
            "logout_uri": sign_in.logout_uri,
            "scopes": list(sign_in.scopes),
        }
        if sign_in is not None
        else None
    )
    return {"timezone": settings.display_timezone, "auth": auth}


def connect_sources(settings: Settings) -> list[str]:
    """Where the page's script may connect besides its own origin: the sign-in domain, for the
    token exchange (the page's Content-Security-Policy)."""
    return [settings.desk_sign_in.domain] if settings.desk_sign_in is not None else []
