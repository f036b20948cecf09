"""Adapters: implementations of the ports. ``memory`` needs nothing but the standard library."""
