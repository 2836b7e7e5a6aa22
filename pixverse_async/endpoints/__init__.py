"""Endpoint namespaces: each turns request objects into calls on the session.

May import: the foundation, the models, uploads, the session and options, the job handles and
the webhooks; not the batch runner or the client (which builds the endpoints).
"""
