import type { RunOutcome } from '../../loadgen/run/LoadRun.ts';
import type { RunStatus } from '../../protocol/api.ts';

/**
 * What `callswarm run` exits with. 99 for a failed threshold is k6's convention; 3 says the run
 * proves nothing either way because the load generator itself saturated (fix the machine, not
 * the call), and `callswarm compare` that the comparison proves nothing either way.
 */
export const exitCodes = {
	passed: 0,
	error: 1,
	badInput: 2,
	invalid: 3,
	/** `callswarm compare`: B is worse than A on a figure both runs vouch for. */
	regression: 1,
	thresholdsFailed: 99,
	interrupted: 130,
} as const;

export function exitCodeOf(outcome: RunOutcome): number {
	if (outcome.stop.kind === 'interrupted') return exitCodes.interrupted;
	return exitCodeOfStatus(outcome.status);
}

/** The exit code for a run's status in the registry (`callswarm wait`, and a shard's own exit). */
export function exitCodeOfStatus(status: RunStatus): number {
	if (status === 'invalid') return exitCodes.invalid;
	if (status === 'failed') return exitCodes.thresholdsFailed;
	if (status === 'aborted') return exitCodes.error;
	return exitCodes.passed;
}
