"""Repository backup: every push to CodeCommit kept in S3 as git bundles, restorable at any backup's time."""
