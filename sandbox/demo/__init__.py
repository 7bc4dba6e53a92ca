"""`make demo` and the CI scenario it shares with the tests: scripting on top of the sandbox."""
