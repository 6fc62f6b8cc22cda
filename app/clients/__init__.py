"""The clients Vigil covers: directory, connection info (encrypted), runbooks, access report."""
