"""The approval page: an approver's signed link shows what is being approved and takes their decision."""
