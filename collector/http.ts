import { ClickHouseError } from '@clickhouse/client';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import type { z } from 'zod';
import type { ApiError } from '../protocol/api.ts';
import { formatIssuePath } from '../protocol/issues.ts';
import { DomainError } from './errors.ts';
import { isDiskFull } from './ingest/Journal.ts';

/** An error with an HTTP status and an ApiError body. */
export class HttpError extends Error {
	constructor(
		readonly statusCode: number,
		readonly code: string,
		message: string,
		readonly issues?: ApiError['issues'],
		readonly headers: Record<string, string> = {},
	) {
		super(message);
	}
}

/** Validates request input, or throws a 400 naming every bad field (prefixed with `where`). */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
	const result = schema.safeParse(value);
	if (result.success) return result.data;
	const issues = result.error.issues.map((i) => ({ path: formatIssuePath(i.path), message: i.message }));
	const summary = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
	throw new HttpError(400, 'bad_request', `invalid ${where}: ${summary}`, issues);
}

const fastifyCodes: Record<string, string> = {
	FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
	FST_ERR_CTP_INVALID_JSON_BODY: 'bad_json',
	FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_json',
	FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
	FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
};

/** Every error leaves as an ApiError JSON body with the right status; 5xx are logged. */
export function installErrorHandler(app: FastifyInstance): void {
	app.setErrorHandler((error: FastifyError | HttpError, request, reply: FastifyReply) => {
		if (error instanceof HttpError) {
			const body: ApiError = { error: error.code, message: error.message, ...(error.issues ? { issues: error.issues } : {}) };
			return reply.code(error.statusCode).headers(error.headers).send(body);
		}
		if (error instanceof DomainError) {
			const status = { not_found: 404, conflict: 409, forbidden: 403 }[error.kind];
			return reply.code(status).send({ error: error.kind, message: error.message } satisfies ApiError);
		}
		if (isDiskFull(error) || (error instanceof ClickHouseError && error.type === 'NOT_ENOUGH_SPACE')) {
			request.log.error({ err: error }, 'no disk space');
			return reply.code(507).header('retry-after', '5').send({ error: 'disk_full', message: 'the collector has no disk space left, retry later' } satisfies ApiError);
		}
		if (error instanceof ClickHouseError) {
			request.log.error({ err: error }, 'ClickHouse query failed');
			return reply.code(503).header('retry-after', '2').send({ error: 'store_unavailable', message: 'ClickHouse could not answer, retry later' } satisfies ApiError);
		}
		const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
		if (status >= 500) request.log.error({ err: error }, 'request failed');
		const code = (error.code && fastifyCodes[error.code]) ?? (status >= 500 ? 'internal' : 'bad_request');
		const body: ApiError = { error: code, message: status >= 500 ? 'internal error' : error.message };
		return reply.code(status).send(body);
	});
	app.setNotFoundHandler((request, reply) =>
		reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url}` } satisfies ApiError),
	);
}
