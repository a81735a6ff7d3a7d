"""AWS plumbing: ``clients`` (botocore clients, outages as domain errors), ``secrets`` (Secrets
Manager with a bounded-age cache), ``cursor`` (DynamoDB keys as opaque page cursors),
``deadline`` (an invocation's time left) and ``snapstart`` (Lambda SnapStart's hooks)."""
