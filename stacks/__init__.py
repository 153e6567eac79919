"""CDK stacks and constructs of the Claude platform."""
