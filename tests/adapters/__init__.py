"""Contract tests run against every adapter of each port, and multi-process races."""
