"""The one logger every function uses: structured JSON lines, correlation by request id.

Powertools reads POWERTOOLS_SERVICE_NAME and POWERTOOLS_LOG_LEVEL from the template's Globals.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger()
