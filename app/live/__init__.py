"""The event bus: events are written with the change that made them (events.py), and each web
process follows them and fans them out to its WebSockets (bus.py)."""
