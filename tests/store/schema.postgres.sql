agent_bindings.namespace text NOT NULL
agent_bindings.address text NOT NULL
agent_bindings.delivery_mode text NOT NULL
agent_bindings.lease_micros bigint NOT NULL
agent_bindings.created_at bigint NOT NULL
agent_bindings.updated_at bigint NOT NULL
agent_callbacks.namespace text NOT NULL
agent_callbacks.address text NOT NULL
agent_callbacks.callback_url text NOT NULL
agent_callbacks.secret text NOT NULL
agent_callbacks.created_at bigint NOT NULL
agent_callbacks.updated_at bigint NOT NULL
agent_feed.namespace text NOT NULL
agent_feed.address text NOT NULL
agent_feed.seq bigint NOT NULL
agent_feed.intent_id text NOT NULL
agent_feed.event_type text NOT NULL
agent_feed.at bigint NOT NULL
agent_kills.namespace text NOT NULL
agent_kills.target text NOT NULL
agent_kills.new_work text NOT NULL
agent_kills.in_flight text NOT NULL
agent_kills.reassign_to text
agent_kills.reason text
agent_kills.actor text NOT NULL
agent_kills.killed_at bigint NOT NULL
agent_routes.namespace text NOT NULL
agent_routes.address text NOT NULL
agent_routes.weights text NOT NULL
agent_routes.actor text NOT NULL
agent_routes.updated_at bigint NOT NULL
agent_workers.namespace text NOT NULL
agent_workers.address text NOT NULL
agent_workers.worker_id text NOT NULL
agent_workers.via text NOT NULL
agent_workers.first_seen_at bigint NOT NULL
agent_workers.last_seen_at bigint NOT NULL
agents.namespace text NOT NULL
agents.address text NOT NULL
agents.feed_seq bigint NOT NULL
agents.created_at bigint NOT NULL
agents.last_seen_at bigint
agents.heartbeat text
api_keys.key_id text NOT NULL
api_keys.namespace text NOT NULL
api_keys.name text NOT NULL
api_keys.role text NOT NULL
api_keys.key_hash text NOT NULL
api_keys.created_at bigint NOT NULL
api_keys.revoked_at bigint
api_keys.task_roles text NOT NULL DEFAULT '[]'::text
api_keys.expires_at bigint
api_keys.agents text NOT NULL DEFAULT '[]'::text
api_keys.rotated_to text
approvals.namespace text NOT NULL
approvals.approval_id text NOT NULL
approvals.decision text NOT NULL
approvals.comment text
approvals.decided_by text NOT NULL
approvals.decided_at bigint NOT NULL
approvals.intent_id text
audit_heads.namespace text NOT NULL
audit_heads.seq bigint NOT NULL
audit_heads.hash text NOT NULL
audit_records.namespace text NOT NULL
audit_records.seq bigint NOT NULL
audit_records.at bigint NOT NULL
audit_records.key_id text
audit_records.principal text NOT NULL
audit_records.role text
audit_records.action text NOT NULL
audit_records.intent_id text
audit_records.agent text
audit_records.details text
audit_records.details_hash text NOT NULL
audit_records.prev_hash text NOT NULL
audit_records.hash text NOT NULL
human_tasks.task_id text NOT NULL
human_tasks.namespace text NOT NULL
human_tasks.intent_id text NOT NULL
human_tasks.state text NOT NULL
human_tasks.spec text NOT NULL
human_tasks.assignees text NOT NULL
human_tasks.level integer NOT NULL
human_tasks.level_started_at bigint NOT NULL
human_tasks.reminders_sent integer NOT NULL
human_tasks.journal_key text
human_tasks.decision text
human_tasks.created_at bigint NOT NULL
human_tasks.updated_at bigint NOT NULL
inbox_changes.namespace text NOT NULL
inbox_changes.owner_agent text NOT NULL
inbox_changes.seq bigint NOT NULL
inbox_changes.thread_id text NOT NULL
inbox_changes.change_type text NOT NULL
inbox_changes.at bigint NOT NULL
inbox_items.thread_id text NOT NULL
inbox_items.seq integer NOT NULL
inbox_items.item_type text NOT NULL
inbox_items.actor text NOT NULL
inbox_items.at bigint NOT NULL
inbox_items.details text NOT NULL
inbox_items.idempotency_key text
inbox_owners.namespace text NOT NULL
inbox_owners.owner_agent text NOT NULL
inbox_owners.change_seq bigint NOT NULL
inbox_threads.thread_id text NOT NULL
inbox_threads.namespace text NOT NULL
inbox_threads.owner_agent text NOT NULL
inbox_threads.updated_at bigint NOT NULL
intent_events.intent_id text NOT NULL
intent_events.seq integer NOT NULL
intent_events.event_type text NOT NULL
intent_events.status text NOT NULL
intent_events.at bigint NOT NULL
intent_events.actor text NOT NULL
intent_events.waiting_reason text
intent_events.details text NOT NULL
intents.intent_id text NOT NULL
intents.namespace text NOT NULL
intents.intent_type text NOT NULL
intents.correlation_id text NOT NULL
intents.from_agent text NOT NULL
intents.to_agent text NOT NULL
intents.reply_to text
intents.parent_intent_id text
intents.root_intent_id text
intents.payload text NOT NULL
intents.status text NOT NULL
intents.waiting_reason text
intents.result text
intents.error text
intents.reason text
intents.deadline_at bigint
intents.max_delivery_attempts integer NOT NULL
intents.delivery_attempt integer NOT NULL
intents.lease_token text
intents.lease_owner text
intents.lease_expires_at bigint
intents.policy_generation integer NOT NULL
intents.controls text NOT NULL
intents.policy text NOT NULL
intents.usage text NOT NULL
intents.idempotency_key text
intents.request_hash text
intents.last_seq integer NOT NULL
intents.created_at bigint NOT NULL
intents.updated_at bigint NOT NULL
intents.queued_at bigint
intents.step_key text
intents.synthetic integer NOT NULL DEFAULT 0
intents.trace_context text
link_uses.nonce text NOT NULL
link_uses.task_id text NOT NULL
link_uses.used_at bigint NOT NULL
mesh_policies.namespace text NOT NULL
mesh_policies.scope text NOT NULL
mesh_policies.generation bigint NOT NULL
mesh_policies.body text NOT NULL
mesh_policies.actor text NOT NULL
mesh_policies.updated_at bigint NOT NULL
namespaces.name text NOT NULL
namespaces.sandbox integer NOT NULL DEFAULT 0
namespaces.created_at bigint NOT NULL
notifications.notification_id text NOT NULL
notifications.namespace text NOT NULL
notifications.channel text NOT NULL
notifications.recipient text NOT NULL
notifications.notice text NOT NULL
notifications.status text NOT NULL
notifications.attempts integer NOT NULL
notifications.due_at bigint NOT NULL
notifications.last_error text
notifications.created_at bigint NOT NULL
notifications.finished_at bigint
notifications.subject text
notifications.max_attempts integer
run_journal.run_id text NOT NULL
run_journal.key text NOT NULL
run_journal.seq integer NOT NULL
run_journal.kind text NOT NULL
run_journal.status text NOT NULL
run_journal.attempt integer NOT NULL
run_journal.child_intent_id text
run_journal.result text
run_journal.error text
run_journal.awaited integer NOT NULL
run_journal.started_at bigint NOT NULL
run_journal.ended_at bigint
run_journal.due_at bigint
runtime_secrets.name text NOT NULL
runtime_secrets.value text NOT NULL
runtime_secrets.created_at bigint NOT NULL
schema_migrations.version integer NOT NULL
schema_migrations.name text NOT NULL
schema_migrations.applied_at bigint NOT NULL
timers.timer_id text NOT NULL
timers.intent_id text NOT NULL
timers.kind text NOT NULL
timers.due_at bigint NOT NULL
timers.payload text NOT NULL
ui_sessions.session_hash text NOT NULL
ui_sessions.key_id text NOT NULL
ui_sessions.created_at bigint NOT NULL
ui_sessions.expires_at bigint NOT NULL
usage_rollups.namespace text NOT NULL
usage_rollups.scope text NOT NULL
usage_rollups.subject text NOT NULL
usage_rollups.bucket bigint NOT NULL
usage_rollups.cost_usd double precision NOT NULL
usage_rollups.tokens_in double precision NOT NULL
usage_rollups.tokens_out double precision NOT NULL
usage_rollups.intents bigint NOT NULL
webhook_events.event_id text NOT NULL
webhook_events.namespace text NOT NULL
webhook_events.owner_agent text NOT NULL
webhook_events.event_type text NOT NULL
webhook_events.source text NOT NULL
webhook_events.payload text NOT NULL
webhook_events.accepted_at bigint NOT NULL
webhook_subscriptions.subscription_id text NOT NULL
webhook_subscriptions.namespace text NOT NULL
webhook_subscriptions.owner_agent text NOT NULL
webhook_subscriptions.callback_url text NOT NULL
webhook_subscriptions.event_types text NOT NULL
webhook_subscriptions.secret text NOT NULL
webhook_subscriptions.active integer NOT NULL
webhook_subscriptions.description text
webhook_subscriptions.created_at bigint NOT NULL
webhook_subscriptions.updated_at bigint NOT NULL
webhook_subscriptions.revoked_at bigint
workflow_runs.run_id text NOT NULL
workflow_runs.namespace text NOT NULL
workflow_runs.scenario_id text NOT NULL
workflow_runs.plan text NOT NULL
workflow_runs.created_at bigint NOT NULL
agent_bindings PRIMARY KEY (namespace, address)
agent_callbacks PRIMARY KEY (namespace, address)
agent_feed PRIMARY KEY (namespace, address, seq)
agent_kills PRIMARY KEY (namespace, target)
agent_routes PRIMARY KEY (namespace, address)
agent_workers PRIMARY KEY (namespace, address, worker_id)
agents PRIMARY KEY (namespace, address)
api_keys PRIMARY KEY (key_id)
api_keys UNIQUE (key_hash)
approvals PRIMARY KEY (namespace, approval_id)
audit_heads PRIMARY KEY (namespace)
audit_records PRIMARY KEY (namespace, seq)
human_tasks PRIMARY KEY (task_id)
inbox_changes PRIMARY KEY (namespace, owner_agent, seq)
inbox_items PRIMARY KEY (thread_id, seq)
inbox_owners PRIMARY KEY (namespace, owner_agent)
inbox_threads PRIMARY KEY (thread_id)
intent_events PRIMARY KEY (intent_id, seq)
intents PRIMARY KEY (intent_id)
link_uses PRIMARY KEY (nonce)
mesh_policies PRIMARY KEY (namespace, scope)
namespaces PRIMARY KEY (name)
notifications PRIMARY KEY (notification_id)
run_journal PRIMARY KEY (run_id, key)
runtime_secrets PRIMARY KEY (name)
schema_migrations PRIMARY KEY (version)
timers PRIMARY KEY (timer_id)
ui_sessions PRIMARY KEY (session_hash)
usage_rollups PRIMARY KEY (namespace, scope, subject, bucket)
webhook_events PRIMARY KEY (event_id)
webhook_subscriptions PRIMARY KEY (subscription_id)
workflow_runs PRIMARY KEY (run_id)
CREATE UNIQUE INDEX agent_bindings_pkey ON public.agent_bindings USING btree (namespace, address);
CREATE UNIQUE INDEX agent_callbacks_pkey ON public.agent_callbacks USING btree (namespace, address);
CREATE UNIQUE INDEX agent_feed_pkey ON public.agent_feed USING btree (namespace, address, seq);
CREATE UNIQUE INDEX agent_kills_pkey ON public.agent_kills USING btree (namespace, target);
CREATE UNIQUE INDEX agent_routes_pkey ON public.agent_routes USING btree (namespace, address);
CREATE UNIQUE INDEX agent_workers_pkey ON public.agent_workers USING btree (namespace, address, worker_id);
CREATE UNIQUE INDEX agents_pkey ON public.agents USING btree (namespace, address);
CREATE UNIQUE INDEX api_keys_key_hash_key ON public.api_keys USING btree (key_hash);
CREATE UNIQUE INDEX api_keys_pkey ON public.api_keys USING btree (key_id);
CREATE UNIQUE INDEX approvals_pkey ON public.approvals USING btree (namespace, approval_id);
CREATE UNIQUE INDEX audit_heads_pkey ON public.audit_heads USING btree (namespace);
CREATE INDEX audit_records_intent ON public.audit_records USING btree (intent_id, seq);
CREATE UNIQUE INDEX audit_records_pkey ON public.audit_records USING btree (namespace, seq);
CREATE INDEX human_tasks_by_intent ON public.human_tasks USING btree (intent_id, state);
CREATE INDEX human_tasks_by_state ON public.human_tasks USING btree (namespace, state, created_at);
CREATE UNIQUE INDEX human_tasks_pkey ON public.human_tasks USING btree (task_id);
CREATE UNIQUE INDEX inbox_changes_pkey ON public.inbox_changes USING btree (namespace, owner_agent, seq);
CREATE UNIQUE INDEX inbox_items_idempotency ON public.inbox_items USING btree (thread_id, idempotency_key) WHERE (idempotency_key IS NOT NULL);
CREATE UNIQUE INDEX inbox_items_pkey ON public.inbox_items USING btree (thread_id, seq);
CREATE UNIQUE INDEX inbox_owners_pkey ON public.inbox_owners USING btree (namespace, owner_agent);
CREATE INDEX inbox_threads_owner ON public.inbox_threads USING btree (namespace, owner_agent, updated_at);
CREATE UNIQUE INDEX inbox_threads_pkey ON public.inbox_threads USING btree (thread_id);
CREATE INDEX inbox_threads_recent ON public.inbox_threads USING btree (namespace, updated_at);
CREATE UNIQUE INDEX intent_events_pkey ON public.intent_events USING btree (intent_id, seq);
CREATE INDEX intents_claimable ON public.intents USING btree (namespace, to_agent, queued_at) WHERE (status = 'SUBMITTED'::text);
CREATE INDEX intents_correlation ON public.intents USING btree (namespace, correlation_id);
CREATE UNIQUE INDEX intents_idempotency ON public.intents USING btree (namespace, idempotency_key) WHERE (idempotency_key IS NOT NULL);
CREATE INDEX intents_lease_expiry ON public.intents USING btree (lease_expires_at) WHERE (lease_expires_at IS NOT NULL);
CREATE INDEX intents_listing ON public.intents USING btree (namespace, created_at, intent_id);
CREATE UNIQUE INDEX intents_pkey ON public.intents USING btree (intent_id);
CREATE INDEX intents_tree ON public.intents USING btree (namespace, root_intent_id, created_at, intent_id);
CREATE UNIQUE INDEX link_uses_pkey ON public.link_uses USING btree (nonce);
CREATE UNIQUE INDEX mesh_policies_pkey ON public.mesh_policies USING btree (namespace, scope);
CREATE UNIQUE INDEX namespaces_pkey ON public.namespaces USING btree (name);
CREATE INDEX notifications_due ON public.notifications USING btree (due_at) WHERE (status = 'pending'::text);
CREATE UNIQUE INDEX notifications_pkey ON public.notifications USING btree (notification_id);
CREATE INDEX notifications_subject ON public.notifications USING btree (subject);
CREATE UNIQUE INDEX run_journal_pkey ON public.run_journal USING btree (run_id, key);
CREATE UNIQUE INDEX runtime_secrets_pkey ON public.runtime_secrets USING btree (name);
CREATE UNIQUE INDEX schema_migrations_pkey ON public.schema_migrations USING btree (version);
CREATE INDEX timers_due ON public.timers USING btree (due_at);
CREATE INDEX timers_intent ON public.timers USING btree (intent_id, kind);
CREATE UNIQUE INDEX timers_pkey ON public.timers USING btree (timer_id);
CREATE INDEX ui_sessions_expiry ON public.ui_sessions USING btree (expires_at);
CREATE UNIQUE INDEX ui_sessions_pkey ON public.ui_sessions USING btree (session_hash);
CREATE UNIQUE INDEX usage_rollups_pkey ON public.usage_rollups USING btree (namespace, scope, subject, bucket);
CREATE UNIQUE INDEX webhook_events_pkey ON public.webhook_events USING btree (event_id);
CREATE INDEX webhook_subscriptions_owner ON public.webhook_subscriptions USING btree (namespace, owner_agent);
CREATE UNIQUE INDEX webhook_subscriptions_pkey ON public.webhook_subscriptions USING btree (subscription_id);
CREATE UNIQUE INDEX workflow_runs_pkey ON public.workflow_runs USING btree (run_id);
