import type { FastifyPluginAsync } from 'fastify';
import type { AlertList, AppKeyList, AppList } from '../../protocol/apps.ts';
import { collectorEndpoints as e } from '../../protocol/endpoints.ts';
import type { AlertEngine } from '../alerts/AlertEngine.ts';
import type { AppRegistry } from '../apps/AppRegistry.ts';
import type { CallTracker } from '../apps/CallTracker.ts';
import { parseRequest } from '../http.ts';
import type { Deletion } from '../privacy/Deletion.ts';
import type { AppViews } from '../queries/AppViews.ts';

export interface AppsPluginOptions {
	registry: AppRegistry;
	views: AppViews;
	calls: CallTracker;
	alerts: AlertEngine;
	deletion: Deletion;
}

/**
 * Production apps under /v1/apps: the registry and its ingest keys, the app view over a time
 * range, alert rules and their history, and erasure of a user's or a call's data. Writes take
 * the run token (the collector's admin secret), never an ingest key.
 */
export const appsPlugin: FastifyPluginAsync<AppsPluginOptions> = async (app, { registry, views, calls, alerts, deletion }) => {
	const appIdOf = (params: unknown): string => {
		const { appId } = parseRequest(e.app.params, params, 'path');
		registry.info(appId);
		return appId;
	};

	app.post(e.createApp.path, async (request, reply) => {
		const input = parseRequest(e.createApp.body, request.body, 'app');
		return reply.code(201).send(await registry.create(input));
	});

	app.get(e.apps.path, async () => ({ apps: registry.list() }) satisfies AppList);

	app.get(e.app.path, async (request) => registry.info(appIdOf(request.params)));

	app.patch(e.updateApp.path, async (request) => {
		const appId = appIdOf(request.params);
		const updated = await registry.update(appId, parseRequest(e.updateApp.body, request.body, 'app'));
		views.invalidate(appId);
		return updated;
	});

	app.post(e.createKey.path, async (request, reply) => reply.code(201).send(await registry.createKey(appIdOf(request.params))));

	app.get(e.keys.path, async (request) => ({ keys: registry.keys(appIdOf(request.params)) }) satisfies AppKeyList);

	app.delete(e.revokeKey.path, async (request) => {
		const { appId, keyId } = parseRequest(e.revokeKey.params, request.params, 'path');
		return registry.revokeKey(appId, keyId);
	});

	app.get(e.appView.path, async (request) => {
		const appId = appIdOf(request.params);
		const query = parseRequest(e.appView.query, request.query, 'query');
		return views.view(registry.info(appId), query, { activeCalls: calls.active(appId), alerts: alerts.states(appId) });
	});

	app.post(e.createAlert.path, async (request, reply) => {
		const appId = appIdOf(request.params);
		return reply.code(201).send(await alerts.create(appId, parseRequest(e.createAlert.body, request.body, 'alert rule')));
	});

	app.get(e.alerts.path, async (request) => {
		const appId = appIdOf(request.params);
		return { rules: alerts.states(appId), history: await alerts.history(appId) } satisfies AlertList;
	});

	app.delete(e.deleteAlert.path, async (request) => {
		const { appId, ruleId } = parseRequest(e.deleteAlert.params, request.params, 'path');
		return alerts.remove(appId, ruleId);
	});

	app.post(e.testAlert.path, async (request) => {
		const { appId, ruleId } = parseRequest(e.testAlert.params, request.params, 'path');
		return alerts.test(appId, ruleId);
	});

	app.post(e.deleteData.path, async (request) => {
		const appId = appIdOf(request.params);
		return deletion.erase(appId, parseRequest(e.deleteData.body, request.body, 'deletion'));
	});
};
