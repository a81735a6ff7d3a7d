"""The chat: the self-hosted ChatKit server (POST /chatkit), its sessions and its thread list.

``app`` is the ASGI app ChatKitFunction runs; ``server`` answers a ChatKit request (the service)
with the agent (``agent``, ``responses_client``), the widgets and their actions, attachments,
dictation and the checks a request passes first; ``store`` is ChatKit's ``Store`` on ChatKitTable.
These pull in ``chatkit``, ``agents`` and ``openai`` (about a second of cold start), which only
ChatKitFunction (and the hosted import) load. ``records`` (ChatKitTable's keys and reads without
ChatKit), ``attachment_keys``, ``sessions`` (POST /api/chatkit/session) and ``threads``
(/api/chatkit/threads) need none of them.
"""
