/**
 * Joining and leaving a WebRTC app as a person would: declarative steps (open, click, type, wait
 * for something on the page) or a module of the user's own with `join(page, ctx)` and
 * `leave(page, ctx)`.
 */
import { pathToFileURL } from 'node:url';
import type { Page } from 'puppeteer-core';
import type { AppScript, AppStep } from '../../protocol/scenario.ts';

/** Who is joining: what placeholders and join modules get. */
export interface AppContext {
	room: string;
	peer: string;
	/** A display name: the group and the participant's number. */
	name: string;
	group: string;
	index: number;
	publish: string;
	subscribe: string;
	/** The app URL of this participant, placeholders filled in. */
	url: string;
}

/** {room}, {peer}, {name}, {group}, {index} in `text`, URL-encoded when `encode`. */
export function fillPlaceholders(text: string, ctx: Pick<AppContext, 'room' | 'peer' | 'name' | 'group' | 'index'>, encode = false): string {
	return text.replace(/\{(room|peer|name|group|index)\}/g, (_, key: keyof typeof ctx) => {
		const value = String(ctx[key]);
		return encode ? encodeURIComponent(value) : value;
	});
}

function describe(step: AppStep): string {
	const [kind, value] = Object.entries(step)[0]!;
	return `${kind} ${JSON.stringify(value)}`;
}

export type AppScriptFunction = (page: Page, ctx: AppContext) => Promise<void>;

/**
 * Runs a join or leave script, every step within `deadline` (epoch ms). A failure names the
 * step: "join step 3 (waitFor \"#in-call\") failed: ...".
 */
export async function runAppScript(page: Page, script: AppScript, ctx: AppContext, what: 'join' | 'leave', deadline: number): Promise<void> {
	const remaining = () => Math.max(1, deadline - Date.now());
	if (!Array.isArray(script)) {
		const module = (await import(pathToFileURL(script.module).href)) as Record<string, unknown>;
		const fn = (module[what] ?? (what === 'join' ? module.default : undefined)) as AppScriptFunction | undefined;
		if (typeof fn !== 'function') throw new Error(`${script.module} exports no ${what}(page, ctx) function`);
		await withDeadline(fn(page, ctx), remaining(), `${what} (${script.module})`);
		return;
	}
	for (const [i, step] of script.entries()) {
		try {
			await runStep(page, step, ctx, remaining);
		} catch (error) {
			throw new Error(`${what} step ${i + 1} (${describe(step)}) failed: ${(error as Error).message.split('\n')[0]}`);
		}
	}
}

/**
 * Waits for a visible element by polling with a timer: bot pages share a browser and most are in
 * the background, where animation frames (which puppeteer's locators wait on) do not run.
 */
async function visible(page: Page, selector: string, timeout: number): Promise<void> {
	await page.waitForFunction(
		(sel: string) => {
			const element = document.querySelector(sel) as HTMLElement | null;
			if (!element) return false;
			const style = getComputedStyle(element);
			return element.getClientRects().length > 0 && style.visibility !== 'hidden' && !element.closest('[hidden]');
		},
		{ polling: 100, timeout },
		selector,
	);
}

async function runStep(page: Page, step: AppStep, ctx: AppContext, remaining: () => number): Promise<void> {
	if ('goto' in step) {
		await page.goto(fillPlaceholders(step.goto, ctx, true), { waitUntil: 'load', timeout: remaining() });
	} else if ('click' in step) {
		await visible(page, step.click, remaining());
		await page.$eval(step.click, (element) => (element as HTMLElement).click());
	} else if ('fill' in step) {
		await visible(page, step.fill, remaining());
		// The native value setter, then input and change events: what frameworks (React and others) listen to.
		await page.$eval(
			step.fill,
			(element, value) => {
				const input = element as HTMLInputElement;
				input.focus();
				const setter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(input) as object, 'value')?.set;
				if (setter) setter.call(input, value);
				else input.value = value;
				input.dispatchEvent(new Event('input', { bubbles: true }));
				input.dispatchEvent(new Event('change', { bubbles: true }));
			},
			fillPlaceholders(step.value, ctx),
		);
	} else if ('press' in step) {
		if (step.selector) {
			await visible(page, step.selector, remaining());
			await page.$eval(step.selector, (element) => (element as HTMLElement).focus());
		}
		await page.keyboard.press(step.press as Parameters<Page['keyboard']['press']>[0]);
	} else if ('waitFor' in step) {
		await visible(page, step.waitFor, Math.min(step.timeout ?? Infinity, remaining()));
	} else if ('waitForFunction' in step) {
		await page.waitForFunction(step.waitForFunction, { polling: 100, timeout: Math.min(step.timeout ?? Infinity, remaining()) });
	} else if ('wait' in step) {
		await new Promise((resolve) => setTimeout(resolve, Math.min(step.wait, remaining())));
	}
}

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
	});
	return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
