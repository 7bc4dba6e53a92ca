"""The `codereflex` command line: operator tools that run on a laptop with AWS credentials."""
