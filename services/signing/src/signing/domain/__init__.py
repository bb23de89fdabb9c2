"""Signing's rules as pure functions: who signs in which order, whose turn it is."""
