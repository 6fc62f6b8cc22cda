"""The clients Vigil covers: their services and pools, the way into their systems (encrypted at
rest), their runbooks, and who looked at what."""
