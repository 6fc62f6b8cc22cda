"""People's accounts: users and passwords, logging in, the second factor, API tokens, lockouts,
and what an admin does for a user who is locked out."""
