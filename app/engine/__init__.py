"""The escalation engine: its loop, how it runs, one delivery at a time, and its heartbeat."""
