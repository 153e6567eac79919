"""Shared core of the Claude platform: model catalog, prices and the config model."""
