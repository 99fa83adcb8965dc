import { bundleDashboard, dashboardDir } from '../dashboard/bundle.ts';
import { bundleBotPage, botPageDir } from '../sfu/botpage/bundle.ts';

await Promise.all([bundleBotPage(), bundleDashboard()]);
console.log(`[setup] bot page bundled into ${botPageDir}, dashboard into ${dashboardDir}`);
