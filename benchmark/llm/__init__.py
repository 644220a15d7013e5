"""LLM backends for the LLM augmenters: local GGUF through llama-cpp, any OpenAI-compatible
server, and a content-addressed completion cache in front of either."""

from benchmark.llm.backend import ChatRequest, Completion, LLMBackend, LLMError, build_backend

__all__ = ["ChatRequest", "Completion", "LLMBackend", "LLMError", "build_backend"]
