"""Hooks into site generators: each turns its host's configuration into Settings and calls the library API."""
