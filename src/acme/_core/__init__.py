"""The sans-I/O ACME protocol core: flows that yield effects and never touch a socket or clock.

Nothing here is public API; ``acme.client`` and ``acme.asyncio_client`` drive these flows.
"""
