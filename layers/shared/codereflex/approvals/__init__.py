"""Approval links: a CodePipeline manual approval decided by each approver on their own signed page."""
