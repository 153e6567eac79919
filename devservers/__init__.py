"""Local stand-ins for the AWS and vendor endpoints the function talks to (tests and benchmarks).

Standard library only; each server binds to 127.0.0.1 on an ephemeral port.
"""
