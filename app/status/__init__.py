"""Clients' status pages: the page and who may read it, components, the promise, public updates, maintenance windows, subscribers, feeds."""
