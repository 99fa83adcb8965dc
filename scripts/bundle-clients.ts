import { bundleBotPage, botPageDir } from '../sfu/botpage/bundle.ts';

await bundleBotPage();
console.log(`[setup] bot page bundled into ${botPageDir}`);
