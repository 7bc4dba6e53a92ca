"""Pydantic models of the AWS events codereflex reacts to, tolerant of the untidy real payloads."""
