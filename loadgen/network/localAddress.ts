import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';

/**
 * The local IPv4 address this machine uses toward `host`: a TURN server's relayed candidates
 * must carry an address the far side (an SFU, an app's peers) can reach. Loopback for a target
 * on this machine. Found by "connecting" a UDP socket, which sends nothing.
 */
export async function localAddressToward(host: string): Promise<string> {
	const { address } = await lookup(host, { family: 4 });
	if (address.startsWith('127.')) return '127.0.0.1';
	const socket = dgram.createSocket('udp4');
	try {
		await new Promise<void>((resolve, reject) => {
			socket.once('error', reject);
			socket.connect(9, address, () => resolve());
		});
		return socket.address().address;
	} finally {
		socket.close();
	}
}
