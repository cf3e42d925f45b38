"""OpenAI Agents SDK adapter (``pip install intentd[openai-agents]``): serve an ``Agent`` as an intentd
agent, and hand work from an agent to any other agent through an intent.

    from intentd.adapters.openai_agents import intent_tool, serve_agent

    review = intent_tool("agent://acme/prod/reviewer", name="review", description="Have a draft reviewed")
    agent = Agent(name="writer", tools=[review, publish], model="gpt-5")
    serve_agent(worker, "agent://acme/prod/writer", agent)   # payload["input"] -> the run -> {"output": ...}

A tool with ``needs_approval`` becomes a human task of the intent, an intent tool's call a child
intent; either way the paused ``RunState`` is journaled on the intent first, and the run continues
from it, in any worker process, once the task is answered or the child has finished.
docs/frameworks.md ("OpenAI Agents SDK") says what runs again when.
"""

from ._serve import agent_handler, serve_agent
from ._tool import intent_tool

__all__ = ["agent_handler", "intent_tool", "serve_agent"]
