/**
 * A generated screen for getDisplayMedia: slides-like content (a title, lines of text, a chart
 * that changes every few seconds) at the given size and rate, from a canvas. What a shared
 * presentation looks like to an encoder: mostly still, sharp edges, occasional full changes.
 */
export function generatedScreen(format: { width: number; height: number; frameRate: number }): MediaStream {
	const canvas = document.createElement('canvas');
	canvas.width = format.width;
	canvas.height = format.height;
	const g = canvas.getContext('2d')!;
	const unit = format.height / 20;
	let slide = 0;
	const draw = () => {
		g.fillStyle = '#ffffff';
		g.fillRect(0, 0, format.width, format.height);
		g.fillStyle = '#1e3a8a';
		g.font = `bold ${unit * 1.6}px sans-serif`;
		g.fillText(`Quarterly review · slide ${slide + 1}`, unit * 2, unit * 3);
		g.font = `${unit * 0.8}px sans-serif`;
		g.fillStyle = '#111827';
		for (let line = 0; line < 8; line++) g.fillText(`• point ${line + 1} of slide ${slide + 1}: figures, owners and dates`, unit * 2, unit * (5 + line * 1.3));
		for (let bar = 0; bar < 6; bar++) {
			const h = ((bar * 37 + slide * 53) % 100) / 100;
			g.fillStyle = ['#2563eb', '#16a34a', '#d97706', '#dc2626', '#7c3aed', '#0891b2'][bar]!;
			g.fillRect(format.width * 0.6 + bar * unit * 1.5, unit * 16 - h * unit * 10, unit, h * unit * 10);
		}
		// A clock: something changes every frame, as a cursor or a live figure would.
		g.fillStyle = '#6b7280';
		g.fillText(new Date().toISOString().slice(11, 23), format.width - unit * 8, format.height - unit);
	};
	draw();
	setInterval(() => {
		slide = (slide + 1) % 12;
	}, 5000);
	setInterval(draw, 1000 / format.frameRate);
	const stream = canvas.captureStream(format.frameRate);
	for (const track of stream.getVideoTracks()) track.contentHint = 'detail';
	return stream;
}
