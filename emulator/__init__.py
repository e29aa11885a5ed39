"""Starts the product locally: every HTTP function in one process (the emulated cloud comes later)."""
