import { bundleCapture, captureDir } from '../capture/bundle.ts';
import { bundleDashboard, dashboardDir } from '../dashboard/bundle.ts';
import { bundleBotPage, botPageDir } from '../sfu/botpage/bundle.ts';

await Promise.all([bundleBotPage(), bundleDashboard(), bundleCapture()]);
console.log(`[setup] bot page bundled into ${botPageDir}, dashboard into ${dashboardDir}, page capture into ${captureDir}`);
