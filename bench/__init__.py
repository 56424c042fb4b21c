"""Benchmarks for fathom on captures of real kernel traffic."""
