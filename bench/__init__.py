"""The benchmark suite (`bench/run`). Not part of the test suite; nothing here is imported by the product."""
