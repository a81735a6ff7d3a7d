"""The self-hosted ChatKit server: a DynamoDB store, the task agent and the ASGI app.

Its modules pull in ``chatkit``, ``agents`` and ``openai`` (about a second of cold start), which
only ChatKitFunction (and the hosted import) load; ``records`` is the exception, ChatKitTable's
records without ChatKit, which the session, threads and user-data functions read through.
"""
