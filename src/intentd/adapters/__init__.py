"""Framework adapters: one subpackage per agent framework (LangGraph, CrewAI, AutoGen, the OpenAI
Agents SDK, …), each an optional extra. An adapter talks to intentd over HTTP through the SDK and
worker, like any agent; it never imports the runtime, and no adapter imports another (both are
import-linter contracts in pyproject.toml), so each installs and breaks alone."""
