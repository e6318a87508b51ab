"""Integrations with other frameworks, each an optional extra: `langchain`, `llamaindex` and
`litellm-proxy` (pip install 'compress[langchain]')."""
