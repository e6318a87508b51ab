"""Integrations with other frameworks, each an optional extra: `langchain` (pip install 'compress[langchain]')."""
