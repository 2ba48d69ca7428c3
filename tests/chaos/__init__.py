"""The fault campaign of issue 14, kept: each part runs reduced in `make test` and in full in
`make chaos` (`python -m tests.chaos`), which prints one table of figures."""
