"""The self-hosted ChatKit server: a DynamoDB store, the task agent and the ASGI app.

Only ChatKitFunction imports this package: it pulls in ``chatkit``, ``agents`` and ``openai``
(about a second of cold start), which every other function stays free of.
"""
