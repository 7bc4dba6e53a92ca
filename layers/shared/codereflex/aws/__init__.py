"""Adapters: one module per AWS service, each wrapping an injected boto3 client."""
