"""AutoGen AgentChat adapter (``pip install intentd[autogen]``): serve a team or an agent as an intentd
agent, and hand work from a team to any other agent through an intent.

    from intentd.adapters.autogen import IntentAgent, intent_tool, serve_team

    review = intent_tool("agent://acme/prod/reviewer", name="review", description="Have a draft reviewed")
    legal = IntentAgent("legal", "agent://acme/prod/legal", description="Checks the terms")
    serve_team(worker, "agent://acme/prod/writers", make_team)   # payload["task"] -> the run -> {"text": ...}

A handoff to the person (``HandoffTermination("user")``) becomes a human task of the intent, an intent
tool's or intent agent's call a child intent; either way the team's ``save_state()`` is journaled on
the intent first, and the run goes on from it, in any worker process, once the task is answered or
the child has finished. docs/frameworks.md ("AutoGen") says what runs again when.
"""

from ._call import IntentAgent, IntentCallFailed, IntentTool, intent_tool
from ._serve import serve_team, team_handler

__all__ = ["IntentAgent", "IntentCallFailed", "IntentTool", "intent_tool", "serve_team", "team_handler"]
