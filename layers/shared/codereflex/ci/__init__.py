"""CI values shared by the PR-build and build-result functions: pull requests, builds, projects."""
