"""OpenAI plumbing: ``key`` (the API key from Secrets Manager), ``pools`` (HTTP pools a SnapStart
restore renews cheaply) and ``retry`` (the delay an upstream asks for)."""
