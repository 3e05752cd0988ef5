"""Foundations every layer may use: paths, parameter checks, seeding and device, progress."""
