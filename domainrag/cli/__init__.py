"""The ``domainrag`` command line."""
