/** Errors of the collector's domain (no HTTP here): the HTTP layer maps each kind to a status. */
export class DomainError extends Error {
	override name = 'DomainError';
	constructor(
		readonly kind: 'not_found' | 'conflict' | 'forbidden',
		message: string,
	) {
		super(message);
	}
}
