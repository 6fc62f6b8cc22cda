"""Accounts: users and passwords, logins, the second factor, API tokens, lockouts, recovery."""
