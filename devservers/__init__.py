"""Local stand-ins for what the function runs on and talks to (tests, benchmarks and the build probe).

Standard library only. `bedrock_server`: the Bedrock-runtime endpoint, bound to 127.0.0.1 on an
ephemeral port. `lambda_runner`: the Lambda Python runtime's import path, for running the bundle.
"""
