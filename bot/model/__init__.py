"""The model client: any OpenAI-compatible endpoint, one contract per call.

`client.ModelClient` asks for structured output and re-asks on invalid answers; `parts` holds
the plain functions and types (tools, the call guard protocol); `errors` maps the endpoint's
failures to Draftsmith's errors; `usage` prices and sums tokens per role and run.
"""
