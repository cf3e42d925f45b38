"""The stand-in model: a ``crewai.BaseLLM`` whose answer is a function of the conversation it is
given (so a crew run again, in any process, is answered the same), counting tokens as a provider
would. ``supports_function_calling()`` is False: the agents use CrewAI's text ReAct loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crewai import BaseLLM
from pydantic import Field


class ScriptedLLM(BaseLLM):
    respond: Callable[[str], str]
    asked: list[str] = Field(default_factory=list)  # every conversation asked (shared by copies)

    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> str:
        text = (
            messages if isinstance(messages, str) else "\n".join(str(m.get("content", "")) for m in messages)
        )
        self.asked.append(text)
        answer = self.respond(text)
        self._track_token_usage_internal(
            {"prompt_tokens": len(text) // 4, "completion_tokens": len(answer) // 4, "total_tokens": 0}
        )
        return answer

    def supports_function_calling(self) -> bool:
        return False


def final(answer: str) -> str:
    return f"Thought: I now know the final answer\nFinal Answer: {answer}"


def action(tool: str, arguments: str) -> str:
    return f"Thought: I should ask for help\nAction: {tool}\nAction Input: {arguments}"
