"""Repository activity notices: deleted branches and tags, pushes and force-pushes to protected branches."""
