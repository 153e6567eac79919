"""Time limits shared by the config check and the function, so both judge a request the same way.

Standard library only: the Lambda bundle ships this module.
"""

from __future__ import annotations

# How fast an answer can plausibly be generated at best (Claude on Bedrock streams well below this
# for large models): a request whose max_tokens cannot finish in the time left at this rate is
# refused before it is sent, and a max_tokens_limit no request could use is a config error.
PLAUSIBLE_OUTPUT_TOKENS_PER_S = 100.0
PLAUSIBLE_FIRST_TOKEN_S = 2.0
# Time the function keeps for recording spend, logging and returning after the last attempt.
FUNCTION_SAFETY_MARGIN_S = 1.0
