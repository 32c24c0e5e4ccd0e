"""What every function runs on: typed configuration and the secret, logs, metrics and traces
with phone numbers masked, AWS clients made once per container, shared HTTP answers.

Rule: usable from every package and handler; it imports none of `domain`, `store`, `woosh`
or `flows`.
"""
