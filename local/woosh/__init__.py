"""Parts of the stand-in Woosh Bridge, one job each; `local.woosh_standin` is the door to them.

- `standin`: `WooshStandIn`, which ties the parts below to a loopback server, with its controls;
- `routes`: its WSGI application: the URL map and the send endpoint's checks, in the Bridge's order;
- `recording`: every send received, the failures programmed for the next ones, the answer delay;
- `inbound`: simulated taps, replies, other messages and statuses, posted to the webhook;
- `send_api`: the send endpoint's validation, recorded sends and answers (Woosh's and Meta's errors);
- `templates`: the registry of approved template shapes and Meta's template checks;
- `limits`: the per-API-key rate limits and WhatsApp's 24-hour reply window;
- `payloads`: what the Bridge posts to the webhook (Meta envelopes, taps, text replies, status
  wrappers) and the headers it signs or authenticates them with;
- `delivery`: posting to the webhook with a record of every POST, and calls run after a delay;
- `control`: the `/_…` endpoints other processes drive the stand-in with;
- `cli`: `python -m local.woosh_standin`, every behaviour a flag or a `WOOSH_STANDIN_*` variable.
"""
