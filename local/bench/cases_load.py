"""The local stack over HTTP: what a kept-alive connection costs against a fresh one, and how MCP
throughput grows from one connection to 64 (the local Lambda pools at work).

Measured against one `make dev` stack started for the run (local/bench/load.py); no probe rows.
"""

from local.bench.load import latency_group, throughput_group

CASES: list = []
LOAD_GROUPS = [latency_group(), throughput_group()]
