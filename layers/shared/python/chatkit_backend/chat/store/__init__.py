"""ChatKit's ``Store`` on ChatKitTable, split by what it stores (``dynamodb`` composes the parts)."""
