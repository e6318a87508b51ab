"""Every model call goes through LiteLLM: frontier providers and the bundled local model alike."""

import os

# LiteLLM otherwise fetches its price table from the network at import; the bundled copy is used offline.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
