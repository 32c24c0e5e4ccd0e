"""The rescue desk's page (SPEC §13) as one HTML document.

`GET /desk` answers with static/desk.html, its style (static/desk.css) and script
(static/desk.js) inlined, and the page's settings as `window.DESK_CONFIG`, so the service
serves the page from one route, with no asset routes, no CDN and no build step.

The configuration the script reads (anything else is ignored):
- `timezone`: the IANA zone human-facing times are shown in (DISPLAY_TIMEZONE, default
  `Africa/Johannesburg`);
- `auth`: `null` (the local stack: no sign-in) or `{"domain", "client_id", "redirect_uri",
  "scopes"}` of the Cognito user pool's hosted sign-in (authorization code flow with PKCE),
  optionally `logout_uri` (default: `redirect_uri`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
STYLE_MARK = "<!-- DESK_STYLE -->"
SCRIPT_MARK = "<!-- DESK_SCRIPT -->"
CONFIG_MARK = "<!-- DESK_CONFIG -->"
_MARKS = re.compile("|".join(re.escape(mark) for mark in (STYLE_MARK, SCRIPT_MARK, CONFIG_MARK)))
# Characters JSON may hold that HTML or older JavaScript read differently inside <script>:
# "<" ("</script>", "<!--"), ">" and "&" for good measure, and the two line separators.
_SCRIPT_SAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


@cache
def _parts() -> tuple[str, dict[str, str]]:
    """desk.html and what replaces each of its marks but the configuration, read once."""
    html = (STATIC / "desk.html").read_text(encoding="utf-8")
    for mark in (STYLE_MARK, SCRIPT_MARK, CONFIG_MARK):
        if html.count(mark) != 1:
            raise ValueError(f"desk.html must hold {mark} exactly once")
    style = (STATIC / "desk.css").read_text(encoding="utf-8")
    script = (STATIC / "desk.js").read_text(encoding="utf-8")
    if "</style" in style.lower():
        raise ValueError("desk.css must not contain '</style'")
    if "</script" in script.lower() or "<!--" in script:
        raise ValueError("desk.js must not contain '</script' or '<!--'")
    return html, {STYLE_MARK: f"<style>\n{style}</style>", SCRIPT_MARK: f"<script>\n{script}</script>"}


def config_script(config: Mapping[str, object]) -> str:
    """`<script>window.DESK_CONFIG = {...}</script>`, safe whatever strings the config holds."""
    data = json.dumps(dict(config), ensure_ascii=False, separators=(",", ":")).translate(_SCRIPT_SAFE)
    return f"<script>window.DESK_CONFIG = {data};</script>"


def render_page(config: Mapping[str, object]) -> str:
    """The desk page with its style, script and `config` inlined (one pass: nothing inserted is
    searched for marks again)."""
    html, parts = _parts()
    fill = {**parts, CONFIG_MARK: config_script(config)}
    return _MARKS.sub(lambda match: fill[match.group(0)], html)
