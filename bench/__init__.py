"""Load and latency benchmarks that run the real server and print a table (`make bench`)."""
