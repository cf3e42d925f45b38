"""CrewAI adapter (``pip install intentd[crewai]``): run a crew or a flow as an intentd agent, and
hand work from a crew to any other agent through an intent.

    from intentd.adapters.crewai import IntentTool, IntentdFeedback, serve_crew, serve_flow

    serve_crew(worker, "agent://acme/prod/research", crew)         # payload -> kickoff(inputs=...)
    serve_flow(worker, "agent://acme/prod/publish", PublishFlow)   # @human_feedback -> human task
    Agent(..., tools=[IntentTool(to_agent="agent://acme/prod/reviewer", name="ask_reviewer",
                                 description="Ask the reviewer to check a draft")])

docs/frameworks.md ("CrewAI") says how pauses map to human tasks and what runs again when.
"""

from ._crew import crew_handler, serve_crew
from ._flow import IntentdFeedback, flow_handler, serve_flow
from ._tool import IntentRequest, IntentTool

__all__ = [
    "IntentRequest",
    "IntentTool",
    "IntentdFeedback",
    "crew_handler",
    "flow_handler",
    "serve_crew",
    "serve_flow",
]
