import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppCreate, AppUpdate, type AppInfo, type AppKeyInfo } from '../../protocol/apps.ts';
import { edgeHashInput, edgeHashPrefix, ingestKeyPattern } from '../../protocol/sdk.ts';
import { DomainError } from '../errors.ts';
import type { ClickHouseStore } from '../store/ClickHouseStore.ts';
import { appColumns, appKeyColumns, type AppKeyRow, type AppRow } from '../store/tables.ts';


/** A user id as stored (see AppRegistry.userHash): a function of the app's row alone, so ingest workers compute it too. */
export function storedUserId(app: Pick<AppRow, 'app_id' | 'salt'>, userId: string): string {
	return createHmac('sha256', app.salt).update(`user\u0000${edgeHashed(app.app_id, userId)}`).digest('hex').slice(0, 24);
}

/** A call's key in the store (see AppRegistry.callKey). */
export function storedCallKey(app: Pick<AppRow, 'app_id' | 'salt'>, callId: string): string {
	return `${app.app_id}.${createHmac('sha256', app.salt).update(`call\u0000${edgeHashed(app.app_id, callId)}`).digest('hex').slice(0, 16)}`;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** An id as the SDK sends it: hashed in the page already, or hashed here the same way. */
export function edgeHashed(appId: string, id: string): string {
	return id.startsWith(edgeHashPrefix) ? id : edgeHashPrefix + sha256(edgeHashInput(appId, id));
}

function info(row: AppRow): AppInfo {
	return {
		appId: row.app_id,
		name: row.name,
		origins: JSON.parse(row.origins) as string[],
		retentionDays: row.retention_days,
		rawRetentionDays: row.raw_retention_days,
		sampleShare: row.sample_share,
		callIdleMinutes: row.call_idle_minutes,
		createdAt: row.created_at,
	};
}

/**
 * The apps monitored in production and their ingest keys, kept in memory (they are few) and in
 * ClickHouse. An ingest key can only post telemetry for its app; only its SHA-256 is stored.
 * Each app has a secret salt: call and user ids are stored as HMACs with it, never as given.
 */
export class AppRegistry {
	readonly #apps = new Map<string, AppRow>();
	readonly #keys = new Map<string, AppKeyRow>();

	private constructor(private readonly store: ClickHouseStore) {}

	static async load(store: ClickHouseStore): Promise<AppRegistry> {
		const registry = new AppRegistry(store);
		const db = `\`${store.database}\``;
		const apps = await store.query<AppRow>(
			`SELECT app_id, name, salt, origins, retention_days, raw_retention_days, sample_share, call_idle_minutes,
				toUnixTimestamp64Milli(created_at) AS created_at, toUnixTimestamp64Milli(updated_at) AS updated_at, deleted
			FROM ${db}.apps FINAL`,
		);
		for (const app of apps) if (!app.deleted) registry.#apps.set(app.app_id, app);
		const keys = await store.query<AppKeyRow>(
			`SELECT app_id, key_id, key_hash, toUnixTimestamp64Milli(created_at) AS created_at,
				if(isNull(revoked_at), NULL, toUnixTimestamp64Milli(assumeNotNull(revoked_at))) AS revoked_at,
				toUnixTimestamp64Milli(updated_at) AS updated_at
			FROM ${db}.app_keys FINAL`,
		);
		for (const key of keys) registry.#keys.set(key.key_id, key);
		return registry;
	}

	list(): AppInfo[] {
		return [...this.#apps.values()].map(info).sort((a, b) => a.appId.localeCompare(b.appId));
	}

	get(appId: string): AppRow | undefined {
		return this.#apps.get(appId);
	}

	info(appId: string): AppInfo {
		return info(this.#require(appId));
	}

	#require(appId: string): AppRow {
		const app = this.#apps.get(appId);
		if (!app) throw new DomainError('not_found', `no app ${appId}`);
		return app;
	}

	async create(input: AppCreate): Promise<AppInfo> {
		const app = AppCreate.parse(input);
		if (this.#apps.has(app.appId)) throw new DomainError('conflict', `app ${app.appId} exists`);
		const now = Date.now();
		const row: AppRow = {
			app_id: app.appId,
			name: app.name,
			salt: randomBytes(32).toString('hex'),
			origins: JSON.stringify(app.origins),
			retention_days: app.retentionDays,
			raw_retention_days: app.rawRetentionDays,
			sample_share: app.sampleShare,
			call_idle_minutes: app.callIdleMinutes,
			created_at: now,
			updated_at: now,
			deleted: 0,
		};
		await this.store.insertRows('apps', appColumns, [row]);
		this.#apps.set(row.app_id, row);
		return info(row);
	}

	async update(appId: string, patch: AppUpdate): Promise<AppInfo> {
		const current = this.#require(appId);
		const p = AppUpdate.parse(patch);
		const row: AppRow = {
			...current,
			name: p.name ?? current.name,
			origins: p.origins ? JSON.stringify(p.origins) : current.origins,
			retention_days: p.retentionDays ?? current.retention_days,
			raw_retention_days: p.rawRetentionDays ?? current.raw_retention_days,
			sample_share: p.sampleShare ?? current.sample_share,
			call_idle_minutes: p.callIdleMinutes ?? current.call_idle_minutes,
			updated_at: Math.max(Date.now(), current.updated_at + 1),
		};
		await this.store.insertRows('apps', appColumns, [row]);
		this.#apps.set(appId, row);
		return info(row);
	}

	/** A new ingest key; its secret is in this reply only. */
	async createKey(appId: string): Promise<AppKeyInfo> {
		this.#require(appId);
		const keyId = randomBytes(4).toString('hex');
		const key = `csk_${keyId}_${randomBytes(20).toString('hex')}`;
		const now = Date.now();
		const row: AppKeyRow = { app_id: appId, key_id: keyId, key_hash: sha256(key), created_at: now, revoked_at: null, updated_at: now };
		await this.store.insertRows('app_keys', appKeyColumns, [row]);
		this.#keys.set(keyId, row);
		return { keyId, createdAt: now, revokedAt: null, key };
	}

	keys(appId: string): AppKeyInfo[] {
		this.#require(appId);
		return [...this.#keys.values()]
			.filter((k) => k.app_id === appId)
			.map((k) => ({ keyId: k.key_id, createdAt: k.created_at, revokedAt: k.revoked_at }))
			.sort((a, b) => a.createdAt - b.createdAt);
	}

	async revokeKey(appId: string, keyId: string): Promise<AppKeyInfo> {
		const key = this.#keys.get(keyId);
		if (!key || key.app_id !== appId) throw new DomainError('not_found', `no key ${keyId} for app ${appId}`);
		const now = Date.now();
		const row: AppKeyRow = { ...key, revoked_at: key.revoked_at ?? now, updated_at: Math.max(now, key.updated_at + 1) };
		await this.store.insertRows('app_keys', appKeyColumns, [row]);
		this.#keys.set(keyId, row);
		return { keyId, createdAt: row.created_at, revokedAt: row.revoked_at };
	}

	/** The app an ingest key posts for, if the key is valid and not revoked. */
	verify(appId: string, key: string): AppRow | undefined {
		const match = ingestKeyPattern.exec(key);
		if (!match) return undefined;
		const row = this.#keys.get(match[1]!);
		if (!row || row.app_id !== appId || row.revoked_at !== null) return undefined;
		const given = Buffer.from(sha256(key), 'hex');
		const expected = Buffer.from(row.key_hash, 'hex');
		if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
		return this.#apps.get(appId);
	}

	/** Whether a page of this origin may post this app's telemetry (CORS). */
	allows(appId: string, origin: string): boolean {
		const app = this.#apps.get(appId);
		return app !== undefined && (JSON.parse(app.origins) as string[]).includes(origin);
	}

	/**
	 * How a user id is stored: an HMAC with the app's secret salt of its edge hash (the SDK's
	 * SHA-256, done here when the page sent the id as is). The same id gives the same value;
	 * without the salt nobody can tell whose it is.
	 */
	userHash(app: AppRow, userId: string): string {
		return storedUserId(app, userId);
	}

	/** A call's key in the store: the app and an HMAC of its call id's edge hash ("acme.3f2a9c1b7d4e5a60"). */
	callKey(app: AppRow, callId: string): string {
		return storedCallKey(app, callId);
	}
}
