/**
 * A shared screen for bots: slides (a title, bullet lines, a chart, a page number) drawn on a
 * 1920x1080 canvas at 5 frames a second, a new slide every 5 s. Mostly still content with sharp
 * text, as a presentation is, so the encoder works as it does for a real screen share.
 */
export const screenFormat = { width: 1920, height: 1080, frameRate: 5 } as const;

export function slidesTrack(): MediaStreamTrack {
	const canvas = document.createElement('canvas');
	canvas.width = screenFormat.width;
	canvas.height = screenFormat.height;
	const context = canvas.getContext('2d')!;
	const startedAt = performance.now();
	const draw = () => {
		const slide = Math.floor((performance.now() - startedAt) / 5000);
		context.fillStyle = '#fdfdfd';
		context.fillRect(0, 0, canvas.width, canvas.height);
		context.fillStyle = '#1d3557';
		context.font = 'bold 72px sans-serif';
		context.fillText(`Quarterly review, part ${slide + 1}`, 120, 180);
		context.font = '40px sans-serif';
		for (let line = 0; line < 8; line++) {
			context.fillText(`• Item ${slide * 8 + line + 1}: figures for region ${(slide + line) % 12}, up ${(slide * 7 + line * 3) % 40} %`, 160, 300 + line * 70);
		}
		for (let bar = 0; bar < 10; bar++) {
			const h = 80 + ((slide * 37 + bar * 53) % 300);
			context.fillStyle = bar % 2 ? '#457b9d' : '#e63946';
			context.fillRect(1250 + bar * 55, 900 - h, 40, h);
		}
		context.fillStyle = '#6c757d';
		context.font = '32px sans-serif';
		// A clock on the slide: every frame differs a little, as a screen with a cursor or clock does.
		context.fillText(`${slide + 1} / ∞   ${new Date().toISOString().slice(11, 21)}`, 1600, 1040);
	};
	draw();
	setInterval(draw, 1000 / screenFormat.frameRate);
	const track = canvas.captureStream(screenFormat.frameRate).getVideoTracks()[0]!;
	track.contentHint = 'detail';
	return track;
}
