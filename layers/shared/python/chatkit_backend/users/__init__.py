"""What is kept per user: ``data`` (everything stored, taken out or erased), ``service``
(UserDataFunction's routes), ``usage`` (the per-user limits on turns, tokens and tool calls)."""
