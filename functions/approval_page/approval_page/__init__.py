"""The approval page: a signed link shows an approval's context, and its form approves or rejects it once."""
