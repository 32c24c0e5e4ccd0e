"""Pure rules and shapes: the stored items and the facts derived from them, requests and
WhatsApp payloads, message texts and bodies, channels (the 24-hour rule), events, timing rules.

Rule: no I/O. Nothing here imports boto3, botocore, requests or Powertools, nor `store`,
`woosh` or `flows`; it may read `platform` (the typed settings).
"""
