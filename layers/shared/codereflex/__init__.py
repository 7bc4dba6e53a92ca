"""codereflex: shared code for the codereflex Lambda functions (shipped as the SharedLayer)."""
