"""Endpoint namespaces: each turns request objects into calls on the session."""
