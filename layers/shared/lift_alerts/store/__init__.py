"""Where facts are kept and handed on: one repository per item family of the alerts table
(alerts, answers, timed steps, ledgers, messages, contacts, the send budget, the send queue,
idempotency records), the parking queue (SQS) and the event bus (EventBridge).

Rule: only this package builds DynamoDB expressions and reads DynamoDB's error codes; every
conditional write answers `table.Written` or `table.ConditionFailed`. It uses `domain` and
`platform`, never `woosh` or `flows`.
"""
