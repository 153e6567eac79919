"""The project's HTTPS endpoint: an ASGI app (Anthropic Messages API, and what gwcompat adds) over the core."""
