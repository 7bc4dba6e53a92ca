"""The sandbox's Lambda side: the template read, patterns matched, functions invoked (`lambda` is a keyword)."""
