"""The event bus: events.py writes events with the change, bus.py fans them out to WebSockets."""
