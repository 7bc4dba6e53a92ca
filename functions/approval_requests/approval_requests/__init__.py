"""Approval requests: each approver of a CodePipeline manual approval gets their own link, reminders and a close-out."""
