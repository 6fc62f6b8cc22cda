"""The proof: the figures that show the promise was kept (the manager's overview; response reports
will join it)."""
