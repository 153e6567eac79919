"""Project Lambda that calls Claude on Bedrock through the project's application inference profile."""
