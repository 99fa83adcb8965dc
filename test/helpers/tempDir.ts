import { rmSync } from 'node:fs';

/**
 * Removes a test's working directory. The embedded ClickHouse engine lives as long as the test
 * process and may still finish a background merge into a closed store's directory, so removal
 * retries a moment (ENOTEMPTY) and, if it still cannot finish, leaves the rest to the OS's
 * temporary-file cleanup rather than failing tests that have already passed.
 */
export function removeDir(dir: string): void {
	try {
		rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
	} catch (error) {
		console.warn(`left ${dir} behind: ${(error as Error).message}`);
	}
}
