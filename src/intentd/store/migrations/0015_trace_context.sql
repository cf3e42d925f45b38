-- The W3C trace context an intent was submitted in (docs/operations.md, "Traces"): the traceparent and
-- tracestate of the span that created it, as JSON text, handed to the agent that handles it so its
-- span joins the same trace. NULL when the submitter traced nothing (the usual case): nothing stored.
ALTER TABLE intents ADD COLUMN trace_context TEXT;
