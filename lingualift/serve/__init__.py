"""`lingualift serve`: an OpenAI-compatible chat endpoint with a web chat page."""
