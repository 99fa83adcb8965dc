import { existsSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { botPageDir, bundleBotPage } from '../botpage/bundle.ts';

/** The bot page at /bot/, bundled at install time (or now, when the bundle is missing). */
export const botPagePlugin: FastifyPluginAsync = async (app) => {
	if (!existsSync(`${botPageDir}/bot.js`)) await bundleBotPage();
	await app.register(fastifyStatic, { root: botPageDir, prefix: '/bot/', decorateReply: false });
};
