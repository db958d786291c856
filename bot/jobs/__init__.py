"""Crash safety and the queue: nothing accepted is lost, nothing is done twice.

The huey queue (`queue`), the outbox that moves stored deliveries into it off the ack path
(`outbox`), and leases with heartbeats that let any worker take over a dead one's work
(`leases`).
"""
