"""The escalation engine: the loop that fires due steps and sends pages, how it runs (its own
process or inline), one delivery at a time, and its heartbeat."""
