/**
 * bench:sfu-capacity: `callswarm capacity` (cli/commands/capacity.ts), which ramps lite
 * bots into rooms on one mediasoup worker until loss passes 0.5 % or a core saturates.
 *   npm run bench:sfu-capacity [-- --step-rooms 2 --step-seconds 12 --max-rooms 40]
 */
import { main } from '../cli/main.ts';

process.exitCode = await main(['capacity', ...process.argv.slice(2)]);
