"""Benchmarks: run each as ``python -m benchmarks.<name>``; they print, and never assert."""
