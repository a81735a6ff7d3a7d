"""HTTP plumbing: ``responses`` (a domain error as status, body and headers; payload-2.0 answers)
and ``fastapi_app`` (what the FastAPI functions share)."""
