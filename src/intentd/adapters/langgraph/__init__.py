"""LangGraph adapter (``pip install intentd[langgraph]``): run a compiled graph as an intentd agent,
and hand work from a graph to any other agent through an intent.

    from intentd.adapters.langgraph import intent_node, serve_graph

    serve_graph(worker, "agent://acme/prod/support", graph)   # payload -> input, final state -> result
    builder.add_node("review", intent_node("agent://acme/prod/reviewer"))   # a child intent, awaited

The intent id is the graph's ``thread_id``, so the graph's checkpointer holds the run; an
``interrupt(value)`` is a human task of the intent, and the answer resumes the graph from its
checkpoint in any worker process. docs/frameworks.md ("LangGraph") says what runs again when.
"""

from ._node import intent_node
from ._serve import graph_handler, serve_graph

__all__ = ["graph_handler", "intent_node", "serve_graph"]
