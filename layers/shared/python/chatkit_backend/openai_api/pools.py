"""HTTP pools for the OpenAI SDK that a SnapStart restore can replace cheaply.

Building a pool's TLS context (reading the CA bundle) is most of what building an OpenAI
client costs. The context is built once, at init, and lands in the snapshot; it holds no
connection and no secret, so every pool, including those a restored sandbox builds in place of
the snapshot's, is made over it in a few milliseconds. The pools are the SDK's own defaults
(limits, timeouts, redirects), over the same TLS settings the SDK would choose.
"""

from __future__ import annotations

import httpx2
import openai

_TLS = httpx2.create_ssl_context()


def async_pool() -> openai.DefaultAsyncHttpxClient:
    return openai.DefaultAsyncHttpxClient(verify=_TLS)
