"""CodeDeploy lifecycle hooks that validate a deployment against its spec and report exactly once."""
