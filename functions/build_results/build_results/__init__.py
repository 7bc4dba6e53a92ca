"""Build results: one living comment per (pull request or commit, CodeBuild project), and an approval vote."""
