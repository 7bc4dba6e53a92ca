"""ECS native blue/green lifecycle hooks: the deployment validation engine, one step per invocation."""
