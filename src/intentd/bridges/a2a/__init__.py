"""The A2A bridge (``pip install intentd[a2a]``), both ways.

intentd agents as A2A agents: :func:`create_a2a_app` serves each :class:`ExposedAgent` with its agent
card; an A2A task IS an intent (the task id is the intent id, the context id its correlation id), its
state follows the intent, a person's question is INPUT_REQUIRED and the A2A follow-up answers it.
``intentd a2a serve`` runs it::

    app = create_a2a_app(AsyncClient(url, bridge_key), [ExposedAgent("writer", "agent://acme/prod/writer")],
                         public_url="http://127.0.0.1:8400", api_key="a2a-clients-key")

External A2A agents as intentd agents: :func:`serve_a2a_agent` registers a worker handler that forwards
each intent to the remote agent as an A2A task, durably::

    serve_a2a_agent(worker, "agent://acme/prod/translator", "http://translator.internal:9000")
"""

from ._app import BearerKey, IntentRequestHandler, create_a2a_app
from ._card import PROTOCOL_VERSION, ExposedAgent, Skill, agent_card
from ._remote import serve_a2a_agent

__all__ = [
    "PROTOCOL_VERSION",
    "BearerKey",
    "ExposedAgent",
    "IntentRequestHandler",
    "Skill",
    "agent_card",
    "create_a2a_app",
    "serve_a2a_agent",
]
