"""Staff accounts, their sign-in sessions and the audit log (services, no views)."""
