-- Reserved for issue 17's work (keys, audit, webhooks, namespaces); filled in by its change.
SELECT 1;
