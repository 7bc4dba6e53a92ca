"""PR builds: start the repository's CodeBuild projects for every new pull-request revision."""
