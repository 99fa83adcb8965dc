export interface PageContext {
	/** Render again after this long (a running run updates itself). */
	refreshIn(ms: number): void;
}

export interface Page {
	render(root: HTMLElement, context: PageContext): Promise<void>;
}
