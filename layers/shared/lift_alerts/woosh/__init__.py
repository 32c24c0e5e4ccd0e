"""The Woosh Bridge client (SPEC §5): sends within Woosh's limits and a deadline, and reads its
answers and errors.

Rule: it uses `domain` and `platform`, never `store` or `flows` (the send budget it paces
itself by is handed to it).
"""
