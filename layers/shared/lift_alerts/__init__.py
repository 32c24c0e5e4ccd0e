"""The lift-alert service's shared layer, in packages by what the code is (one direction of use,
checked by the import-linter contracts in pyproject.toml):

- `flows`: one module per behaviour of the SPEC, joining the packages below;
- `store` (DynamoDB, SQS, EventBridge) and `woosh` (the Bridge client): talk to the world;
- `domain`: pure rules and shapes, no I/O;
- `platform`: configuration, secrets, observability, AWS clients, HTTP helpers, used by all.

Handlers (`functions/<name>/app.py`) use `flows` and `platform` only.
"""
