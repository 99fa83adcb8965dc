import { defineConfig } from 'vitest/config';

export default defineConfig({
	test: {
		include: ['test/**/*.test.ts'],
		// Integration tests start mediasoup workers and Chromium: one file at a time on 2 cores.
		fileParallelism: false,
		testTimeout: 120_000,
		hookTimeout: 120_000,
		pool: 'forks',
		reporters: ['default'],
	},
});
