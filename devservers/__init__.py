"""Local stand-ins for what the function runs on and talks to (tests, benchmarks and the build probe).

Each server binds to 127.0.0.1 on an ephemeral port. `bedrock_server`: the Bedrock-runtime endpoint
(standard library only; the bundle build's probe calls it too). `aws_server`: DynamoDB and SNS (moto).
`lambda_runner`: the Lambda Python runtime's import path, for running the built bundle.
"""
