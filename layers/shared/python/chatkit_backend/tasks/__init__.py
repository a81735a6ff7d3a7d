"""The signed-in user's tasks: ``service`` (TasksTable, one DynamoDB request per operation) and
``tools``, the one catalogue of task tools from which MCP's listing and the agent's tools are made."""
