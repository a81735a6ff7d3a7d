"""AWS list prices in us-east-1, in USD, that the benchmark's cost figures use.

docs/cost.md gives each one's source (the AWS pricing page and the Price List API's SKU) and the
day it was read; free tiers are not applied.
"""

from __future__ import annotations

import math

PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_arm_gb_second": 0.0000133334,
    "snapstart_cache_gb_second": 0.0000015046,
    "snapstart_restore_gb": 0.0001397998,
    "rest_api_request": 3.50 / 1e6,
    "http_api_request": 1.00 / 1e6,
    "dynamodb_read_unit": 0.125 / 1e6,
    "dynamodb_write_unit": 0.625 / 1e6,
    "logs_ingested_gb": 0.50,
    "custom_metric_month": 0.30,
    "alarm_month": 0.10,
    "xray_trace": 5.00 / 1e6,
    "secret_month": 0.40,
    "secret_call": 0.05 / 1e4,
    "transfer_out_gb": 0.09,
    "fargate_arm_vcpu_hour": 0.03238,
    "fargate_arm_gb_hour": 0.00356,
    "public_ipv4_hour": 0.005,
}


def billed_ms(duration_ms: float) -> int:
    """What Lambda bills for ``duration_ms``: whole milliseconds, at least one."""
    return max(1, math.ceil(duration_ms))


def gb_second_usd(memory_mb: int) -> float:
    """One second of a function at ``memory_mb`` (arm64)."""
    return memory_mb / 1024 * PRICES["lambda_arm_gb_second"]


def lambda_call_usd(memory_mb: int, duration_ms: float) -> float:
    """One invocation of ``duration_ms`` at ``memory_mb`` (arm64), billed as Lambda bills it."""
    return PRICES["lambda_request"] + billed_ms(duration_ms) / 1000 * gb_second_usd(memory_mb)
