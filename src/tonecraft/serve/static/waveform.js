// A small canvas waveform: min/max peaks of a 16-bit PCM WAV (what the server writes), a play head, click to seek.
"use strict";

function parseWav(buffer) {
  const v = new DataView(buffer);
  let pos = 12, channels = 1, rate = 0, bits = 16;
  while (pos + 8 <= v.byteLength) {
    const id = String.fromCharCode(v.getUint8(pos), v.getUint8(pos + 1), v.getUint8(pos + 2), v.getUint8(pos + 3));
    let size = v.getUint32(pos + 4, true);
    if (id === "fmt ") {
      channels = v.getUint16(pos + 10, true); rate = v.getUint32(pos + 12, true); bits = v.getUint16(pos + 22, true);
    } else if (id === "data") {
      if (size === 0xffffffff || pos + 8 + size > v.byteLength) size = v.byteLength - pos - 8;
      if (bits !== 16) return null;
      const frames = Math.floor(size / (2 * channels));
      const mono = new Float32Array(frames);
      for (let i = 0; i < frames; i++) {
        let s = 0;
        for (let c = 0; c < channels; c++) s += v.getInt16(pos + 8 + 2 * (i * channels + c), true);
        mono[i] = s / channels / 32768;
      }
      return { samples: mono, rate: rate };
    }
    pos += 8 + size + (size & 1);
  }
  return null;
}

class Waveform {
  constructor(canvas, audio) {
    this.canvas = canvas; this.audio = audio; this.peaks = null;
    canvas.addEventListener("click", (e) => {
      if (!this.audio.duration || !isFinite(this.audio.duration)) return;
      const r = canvas.getBoundingClientRect();
      this.audio.currentTime = ((e.clientX - r.left) / r.width) * this.audio.duration;
      this.draw();
    });
    audio.addEventListener("timeupdate", () => this.draw());
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  async load(url) {
    const resp = await fetch(url, { credentials: "same-origin" });
    if (!resp.ok) throw new Error("audio " + resp.status);
    const wav = parseWav(await resp.arrayBuffer());
    if (!wav) throw new Error("not a 16-bit WAV");
    this.peaks = computePeaks(wav.samples, 600);
    this.canvas.dataset.ready = "1";
    this.canvas.dataset.seconds = (wav.samples.length / wav.rate).toFixed(2);
    this.draw();
  }

  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(c.clientWidth * dpr)), h = Math.max(1, Math.round(c.clientHeight * dpr));
    if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    const g = c.getContext("2d");
    g.clearRect(0, 0, w, h);
    if (!this.peaks) return;
    const style = getComputedStyle(document.documentElement);
    const played = this.audio.duration ? this.audio.currentTime / this.audio.duration : 0;
    const n = this.peaks.length / 2, mid = h / 2;
    for (let x = 0; x < w; x++) {
      const i = Math.min(n - 1, Math.floor((x / w) * n));
      const lo = this.peaks[2 * i], hi = this.peaks[2 * i + 1];
      g.fillStyle = x / w < played ? style.getPropertyValue("--wave-played") : style.getPropertyValue("--wave");
      g.fillRect(x, mid - hi * mid, 1, Math.max(1, (hi - lo) * mid));
    }
  }
}

function computePeaks(samples, buckets) {
  const out = new Float32Array(2 * buckets);
  const per = Math.max(1, Math.floor(samples.length / buckets));
  let top = 1e-6;
  for (let b = 0; b < buckets; b++) {
    let lo = 0, hi = 0;
    for (let i = b * per; i < Math.min(samples.length, (b + 1) * per); i++) {
      const s = samples[i];
      if (s < lo) lo = s;
      if (s > hi) hi = s;
    }
    out[2 * b] = lo; out[2 * b + 1] = hi;
    top = Math.max(top, -lo, hi);
  }
  for (let i = 0; i < out.length; i++) out[i] /= top;
  return out;
}
