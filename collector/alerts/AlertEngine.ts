import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
	AlertRuleCreate,
	type AlertNotification,
	type AlertRule,
	type AlertState,
	type AlertTestReport,
} from '../../protocol/apps.ts';
import { formatDuration } from '../../protocol/durations.ts';
import { ThresholdExpressions } from '../../protocol/thresholds.ts';
import { DomainError } from '../errors.ts';
import type { ThresholdQueries } from '../queries/ThresholdQueries.ts';
import { appWindowScope, type Sql } from '../queries/sql.ts';
import type { ClickHouseStore } from '../store/ClickHouseStore.ts';
import { alertEventColumns, alertRuleColumns, type AlertEventRow, type AlertRuleRow } from '../store/tables.ts';

interface RuleState {
	rule: AlertRuleRow;
	state: AlertState['state'];
	value: number | null;
	since: number | null;
}

export interface AlertEngineEvents {
	/** A rule changed state and its notification was sent (or given up on). */
	notified: [event: AlertEventRow];
}

export interface AlertEngineOptions {
	/** How often every rule is evaluated over its window. */
	intervalMs: number;
	/** One webhook attempt's time limit; a failed delivery is tried 3 times. */
	webhookTimeoutMs?: number;
}

const rule = (row: AlertRuleRow): AlertRule => ({
	ruleId: row.rule_id,
	name: row.name,
	metric: row.metric,
	threshold: row.threshold,
	windowMs: row.window_ms,
	webhook: row.webhook,
	format: row.format === 'slack' ? 'slack' : 'json',
});

/**
 * Alert rules of production apps: a threshold in the scenario syntax over a sliding window of
 * an app's calls (`mos: p(5)>3.5 over 5m`), evaluated every interval with the same exact
 * aggregates as a run's thresholds. A rule fires when its threshold fails on data, and
 * resolves when it holds again or its window has no data left (the calls ended); each change
 * is kept (alert_events) and posted to the rule's webhook, as JSON or Slack-compatible text.
 */
export class AlertEngine extends EventEmitter<AlertEngineEvents> {
	readonly #rules = new Map<string, RuleState>();
	#timer: NodeJS.Timeout | undefined;
	#running: Promise<void> | undefined;
	#closed = false;

	private constructor(
		private readonly store: ClickHouseStore,
		private readonly sql: Sql,
		private readonly thresholds: ThresholdQueries,
		private readonly options: AlertEngineOptions,
	) {
		super();
	}

	static async start(store: ClickHouseStore, sql: Sql, thresholds: ThresholdQueries, options: AlertEngineOptions): Promise<AlertEngine> {
		const engine = new AlertEngine(store, sql, thresholds, options);
		await engine.#load();
		engine.#timer = setInterval(() => void engine.evaluate(), options.intervalMs);
		engine.#timer.unref();
		return engine;
	}

	async #load(): Promise<void> {
		const db = this.sql.db;
		const rules = await this.sql.rows<AlertRuleRow>(
			`SELECT app_id, rule_id, name, metric, threshold, window_ms, webhook, format,
				toUnixTimestamp64Milli(created_at) AS created_at, toUnixTimestamp64Milli(updated_at) AS updated_at, deleted
			FROM ${db}.alert_rules FINAL`,
			{},
		);
		// A rule firing when the collector stopped is still firing: its last event says so.
		const last = await this.sql.rows<{ rule_id: string; last_state: string; last_ts: number; last_value: number | null }>(
			`SELECT rule_id, argMax(state, ts) AS last_state, toUnixTimestamp64Milli(max(ts)) AS last_ts, argMax(value, ts) AS last_value
			FROM ${db}.alert_events GROUP BY rule_id`,
			{},
		);
		const lastByRule = new Map(last.map((l) => [l.rule_id, l]));
		for (const row of rules) {
			if (row.deleted) continue;
			const previous = lastByRule.get(row.rule_id);
			const firing = previous?.last_state === 'firing';
			this.#rules.set(row.rule_id, { rule: row, state: firing ? 'firing' : 'no-data', value: previous?.last_value ?? null, since: firing ? Number(previous.last_ts) : null });
		}
	}

	async create(appId: string, input: AlertRuleCreate): Promise<AlertRule> {
		const parsed = AlertRuleCreate.parse(input);
		const now = Date.now();
		const row: AlertRuleRow = {
			app_id: appId,
			rule_id: randomBytes(6).toString('hex'),
			name: parsed.name,
			metric: parsed.metric,
			threshold: parsed.threshold,
			window_ms: parsed.window,
			webhook: parsed.webhook ?? '',
			format: parsed.format,
			created_at: now,
			updated_at: now,
			deleted: 0,
		};
		await this.store.insertRows('alert_rules', alertRuleColumns, [row]);
		this.#rules.set(row.rule_id, { rule: row, state: 'no-data', value: null, since: null });
		return rule(row);
	}

	async remove(appId: string, ruleId: string): Promise<AlertRule> {
		const state = this.#require(appId, ruleId);
		const row: AlertRuleRow = { ...state.rule, deleted: 1, updated_at: Math.max(Date.now(), state.rule.updated_at + 1) };
		await this.store.insertRows('alert_rules', alertRuleColumns, [row]);
		this.#rules.delete(ruleId);
		return rule(row);
	}

	states(appId: string): AlertState[] {
		return [...this.#rules.values()]
			.filter((s) => s.rule.app_id === appId)
			.map((s) => ({ ...rule(s.rule), state: s.state, value: s.value, since: s.since }))
			.sort((a, b) => a.name.localeCompare(b.name));
	}

	async history(appId: string, limit = 100): Promise<Array<{ ruleId: string; ts: number; state: 'firing' | 'resolved'; value: number | null; message: string; delivered: boolean }>> {
		const rows = await this.sql.rows<{ rule_id: string; ts: number; state: string; value: number | null; message: string; delivered: number }>(
			`SELECT rule_id, toUnixTimestamp64Milli(ts) AS ts, state, value, message, delivered
			FROM ${this.sql.db}.alert_events WHERE app_id = {app:String} ORDER BY ts DESC LIMIT {limit:UInt32}`,
			{ app: appId, limit },
		);
		return rows.map((r) => ({
			ruleId: r.rule_id,
			ts: Number(r.ts),
			state: r.state === 'firing' ? 'firing' : 'resolved',
			value: r.value === null ? null : Number(r.value),
			message: r.message,
			delivered: Boolean(r.delivered),
		}));
	}

	/** Sends a test notification to a rule's webhook now. */
	async test(appId: string, ruleId: string): Promise<AlertTestReport> {
		const state = this.#require(appId, ruleId);
		if (!state.rule.webhook) return { delivered: false, status: null, error: 'the rule has no webhook' };
		return this.#post(state.rule, this.#notification(state.rule, 'firing', state.value, Date.now(), true));
	}

	/** Evaluates every rule once (the timer calls this; tests may too). Calls never overlap. */
	evaluate(): Promise<void> {
		this.#running ??= this.#evaluateAll().finally(() => {
			this.#running = undefined;
		});
		return this.#running;
	}

	async #evaluateAll(): Promise<void> {
		for (const state of [...this.#rules.values()]) {
			if (this.#closed) return;
			try {
				await this.#evaluateRule(state);
			} catch {
				// The store is down or slow: the rule keeps its state and is evaluated next time.
			}
		}
	}

	async #evaluateRule(state: RuleState): Promise<void> {
		const now = Date.now();
		const { rule: r } = state;
		const [result] = await this.thresholds.evaluateIn(appWindowScope(r.app_id, now - r.window_ms, now), ThresholdExpressions.parse({ [r.metric]: [r.threshold] }));
		if (!result || !this.#rules.has(r.rule_id)) return;
		const hasData = result.samples > 0 && result.value !== null;
		state.value = result.value;
		if (!hasData) {
			if (state.state === 'firing') await this.#transition(state, 'resolved', now, 'no data in the window (the calls ended)');
			state.state = 'no-data';
			state.since = null;
			return;
		}
		if (!result.ok && state.state !== 'firing') {
			state.state = 'firing';
			state.since = now;
			await this.#transition(state, 'firing', now);
		} else if (result.ok && state.state !== 'ok') {
			const wasFiring = state.state === 'firing';
			state.state = 'ok';
			state.since = null;
			if (wasFiring) await this.#transition(state, 'resolved', now);
		}
	}

	async #transition(state: RuleState, to: 'firing' | 'resolved', ts: number, why?: string): Promise<void> {
		const notification = this.#notification(state.rule, to, state.value, ts, false, why);
		const delivery = state.rule.webhook ? await this.#post(state.rule, notification) : { delivered: false, status: null, error: null };
		const event: AlertEventRow = {
			app_id: state.rule.app_id,
			rule_id: state.rule.rule_id,
			ts,
			state: to,
			value: state.value,
			samples: 0,
			message: notification.text,
			delivered: delivery.delivered ? 1 : 0,
		};
		await this.store.insertRows('alert_events', alertEventColumns, [event]);
		this.emit('notified', event);
	}

	#notification(r: AlertRuleRow, to: 'firing' | 'resolved', value: number | null, ts: number, test: boolean, why?: string): AlertNotification {
		const shown = value === null ? 'no data' : Number(value.toFixed(3)).toString();
		const window = formatDuration(r.window_ms);
		const text = `${test ? '[test] ' : ''}${to === 'firing' ? '🔴 FIRING' : '🟢 RESOLVED'} ${r.app_id} · ${r.name}: ${r.metric} ${r.threshold} over ${window} — now ${shown}${why ? ` (${why})` : ''}`;
		return { app: r.app_id, rule: r.name, state: to, metric: r.metric, threshold: r.threshold, windowMs: r.window_ms, value, ts, text };
	}

	async #post(r: AlertRuleRow, notification: AlertNotification): Promise<AlertTestReport> {
		const body = r.format === 'slack' ? { text: notification.text } : notification;
		let last: AlertTestReport = { delivered: false, status: null, error: null };
		for (let attempt = 0; attempt < 3 && !this.#closed; attempt++) {
			if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
			try {
				const response = await fetch(r.webhook, {
					method: 'POST',
					headers: { 'content-type': 'application/json', 'user-agent': 'callswarm-alerts' },
					body: JSON.stringify(body),
					signal: AbortSignal.timeout(this.options.webhookTimeoutMs ?? 5000),
				});
				last = { delivered: response.ok, status: response.status, error: response.ok ? null : `the webhook answered ${response.status}` };
				// A 4xx will not get better by trying again.
				if (response.ok || (response.status >= 400 && response.status < 500)) return last;
			} catch (error) {
				last = { delivered: false, status: null, error: error instanceof Error ? error.message : String(error) };
			}
		}
		return last;
	}

	#require(appId: string, ruleId: string): RuleState {
		const state = this.#rules.get(ruleId);
		if (!state || state.rule.app_id !== appId) throw new DomainError('not_found', `no alert rule ${ruleId} for app ${appId}`);
		return state;
	}

	async close(): Promise<void> {
		this.#closed = true;
		clearInterval(this.#timer);
		await this.#running;
	}
}
