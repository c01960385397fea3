"""The outbox and what reads it: event types, the relay and its handlers, NATS publishing and live
streams (SSE).
"""
