// tonecraft studio: the page over the HTTP API (/v1/...). No framework, no network beyond this server.
"use strict";

const EXAMPLES = {
  music: [
    "slow church organ chorale in G minor, 60 bpm",
    "upbeat acoustic guitar folk tune, 120 bpm",
    "calm solo piano, gentle and slow",
    "fast jazz trio with walking bass and brushed drums",
    "epic orchestral strings and brass, cinematic",
    "lofi hip hop beat with warm electric piano",
  ],
  sfx: [
    "heavy rain on a tin roof",
    "wooden door creaks open and slams shut",
    "footsteps on gravel",
    "dog barking in the distance",
    "crackling campfire at night",
    "sword hits a metal shield",
  ],
};
const FORMATS = ["wav", "flac", "ogg", "mp3"];
const $ = (id) => document.getElementById(id);
const state = { models: [], jobs: new Map(), lastSeed: null, reference: null, nextBefore: null };

async function api(path, options = {}) {
  const resp = await fetch(path, { credentials: "same-origin", ...options });
  let body = null;
  try { body = await resp.json(); } catch (e) { body = null; }
  if (!resp.ok) throw new Error((body && body.error) || `HTTP ${resp.status}`);
  return body;
}

function say(text, error = false) {
  const m = $("message");
  m.textContent = text;
  m.className = error ? "error" : "";
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

// -- composing -----------------------------------------------------------------------------------------------------

function modelLabel(m) {
  // kind, rate and what it can do; an official model found in the cache says it loads on its first job
  const facts = [m.kind === "sfx" ? "sound effects" : "music", `${m.sample_rate / 1000} kHz`];
  if (m.capabilities.stereo) facts.push("stereo");
  if (m.capabilities.melody) facts.push("melody");
  const note = m.source === "cache" ? (m.loaded ? " · from the cache" : " · from the cache, loads on first use") : "";
  return `${m.name} (${facts.join(", ")})${note}`;
}

function currentKind() {
  const m = state.models.find((x) => x.name === $("model").value);
  return m ? m.kind : "music";
}

function loopChanged() {
  const music = currentKind() !== "sfx";
  $("loop").disabled = !music;
  if (!music) $("loop").checked = false;
  const on = $("loop").checked;
  for (const id of ["bars", "bpm", "meter"]) $(id).disabled = !on;
  $("duration").disabled = on;
  $("add-segment").disabled = on;
}

function applyModelDefaults() {
  const m = state.models.find((x) => x.name === $("model").value);
  if (!m || !m.defaults) return;
  $("top_k").value = m.defaults.top_k;
  $("temperature").value = m.defaults.temperature;
  $("cfg").value = m.defaults.cfg;
}

function showExamples() {
  $("examples").replaceChildren(...EXAMPLES[currentKind() === "sfx" ? "sfx" : "music"].map((text) =>
    el("button", { type: "button", onclick: () => { $("prompt").value = text; $("prompt").focus(); } }, text)));
}

// Multi-prompt: the main prompt and duration are the first segment; every row added below continues the piece.
function addSegment(prompt = "", duration = null) {
  const text = el("input", { class: "segment-prompt", type: "text", maxlength: "2000", value: prompt,
                             placeholder: "how the piece continues", "aria-label": "next segment prompt" });
  const secs = el("input", { class: "segment-duration", type: "number", min: "0.5", max: "120", step: "0.5",
                             value: String(duration ?? $("duration").value), "aria-label": "next segment duration" });
  const row = el("div", { class: "segment" }, el("span", { class: "then" }, "then"), text,
    el("label", {}, secs, " s"),
    el("button", { type: "button", class: "remove-segment ghost", "aria-label": "remove this segment",
                   onclick: () => { row.remove(); segmentsChanged(); } }, "×"));
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.isComposing) { e.preventDefault(); generate(); }
  });
  secs.addEventListener("input", segmentsChanged);
  $("segments").append(row);
  segmentsChanged();
  return text;
}

function segmentRows() {
  return [...$("segments").querySelectorAll(".segment")].map((row) => ({
    prompt: row.querySelector(".segment-prompt").value.trim(),
    duration: Number(row.querySelector(".segment-duration").value),
  }));
}

function segmentsChanged() {
  const rows = segmentRows();
  const total = rows.reduce((t, r) => t + r.duration, Number($("duration").value));
  $("segments-total").textContent = rows.length ? `${rows.length + 1} segments, ${total} s in all` : "";
}

function setSegments(segments) {
  $("segments").replaceChildren();
  (segments || []).slice(1).forEach((s) => addSegment(s.prompt, s.duration));
  segmentsChanged();
}

function requestBody() {
  const num = (id) => Number($(id).value);
  const body = {
    prompt: $("prompt").value.trim(), model: $("model").value, duration: num("duration"),
    top_k: Math.round(num("top_k")), top_p: num("top_p"), temperature: num("temperature"), cfg: num("cfg"),
    n: Math.round(num("n")), watermark: $("watermark").checked,
  };
  const rows = segmentRows();
  if ($("loop").checked) {
    body.loop = true;
    body.bars = Math.round(num("bars"));
    body.meter = $("meter").value;
    if ($("bpm").value !== "") body.bpm = num("bpm");
    delete body.duration;
  } else if (rows.length) {
    body.segments = [{ prompt: body.prompt, duration: body.duration }, ...rows];
    delete body.prompt;
    delete body.duration;
  }
  if ($("seed").value !== "") body.seed = Math.round(num("seed"));
  if (state.reference) body[state.reference.mode] = state.reference.id;
  return body;
}

async function generate() {
  const button = $("generate");
  button.disabled = true;
  try {
    const sub = await api("/v1/jobs", { method: "POST", headers: { "Content-Type": "application/json" },
                                        body: JSON.stringify(requestBody()) });
    state.lastSeed = sub.seed;
    say(`Queued (seed ${sub.seed}).`);
    const job = await api(`/v1/jobs/${sub.id}`);
    show(job);
    follow(job.id);
  } catch (e) {
    say(e.message, true);
  } finally {
    button.disabled = false;
  }
}

async function uploadBlob(blob, name, mode) {
  const form = new FormData();
  form.append("file", blob, name);
  const up = await api("/v1/uploads", { method: "POST", body: form });
  state.reference = { id: up.id, mode: mode };
  $("reference-mode").value = mode;
  $("reference-info").textContent = `${up.name}: ${up.seconds.toFixed(1)} s, used as ${mode}`;
  $("advanced").open = true;
  return up;
}

function encodeWav(buffer) {
  const ch = buffer.numberOfChannels, n = buffer.length, out = new DataView(new ArrayBuffer(44 + 2 * n * ch));
  const put = (o, s) => { for (let i = 0; i < 4; i++) out.setUint8(o + i, s.charCodeAt(i)); };
  put(0, "RIFF"); out.setUint32(4, 36 + 2 * n * ch, true); put(8, "WAVE"); put(12, "fmt ");
  out.setUint32(16, 16, true); out.setUint16(20, 1, true); out.setUint16(22, ch, true);
  out.setUint32(24, buffer.sampleRate, true); out.setUint32(28, buffer.sampleRate * 2 * ch, true);
  out.setUint16(32, 2 * ch, true); out.setUint16(34, 16, true); put(36, "data"); out.setUint32(40, 2 * n * ch, true);
  const data = [...Array(ch).keys()].map((c) => buffer.getChannelData(c));
  for (let i = 0; i < n; i++) for (let c = 0; c < ch; c++) {
    out.setInt16(44 + 2 * (i * ch + c), Math.max(-1, Math.min(1, data[c][i])) * 32767, true);
  }
  return new Blob([out], { type: "audio/wav" });
}

let recorder = null;
async function toggleRecording() {
  if (recorder) { recorder.stop(); return; }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const parts = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = (e) => parts.push(e.data);
    recorder.onstop = async () => {
      stream.getTracks().forEach((t) => t.stop());
      recorder = null;
      $("record").textContent = "Record";
      const ctx = new AudioContext();
      const decoded = await ctx.decodeAudioData(await new Blob(parts).arrayBuffer());
      await uploadBlob(encodeWav(decoded), "recording.wav", $("reference-mode").value);
    };
    recorder.start();
    $("record").textContent = "Stop recording";
  } catch (e) {
    say("Microphone unavailable: " + e.message, true);
  }
}

// -- jobs ----------------------------------------------------------------------------------------------------------

function describe(job) {
  const p = job.params || {};
  const bits = [job.model, `${p.duration} s`, `seed ${job.seed}`];
  if (p.segments) bits.push(`${p.segments.length} segments`);
  if (p.loop) bits.push(`loop of ${p.bars} bar${p.bars === 1 ? "" : "s"} at ${p.tempo_bpm} bpm in ${p.meter}`);
  if (p.n > 1) bits.push(`${p.n} variants`);
  bits.push(`top-k ${p.top_k ?? "model's"}`, `temp ${p.temperature ?? "model's"}`, `CFG ${p.cfg ?? "model's"}`);
  if (p.top_p) bits.push(`top-p ${p.top_p}`);
  if (p.watermark === false) bits.push("no watermark");
  if (p.continuation) bits.push("continued");
  if (p.melody) bits.push("melody");
  return bits.join(" · ");
}

function statusLine(job) {
  if (job.status === "queued") {
    return `queued${job.position ? ` #${job.position}` : ""}${job.eta_s != null ? `, about ${Math.ceil(job.eta_s)} s` : ""}`;
  }
  if (job.status === "running") {
    const eta = job.eta_s != null ? `, ${Math.ceil(job.eta_s)} s left` : "";
    return `generating ${Math.round(job.progress * 100)}%${eta}`;
  }
  if (job.status === "done") return `done in ${job.timings.total_s.toFixed(1)} s, ${new Date(job.created * 1000).toLocaleString()}`;
  return job.status + (job.error ? `: ${job.error}` : "");
}

function show(job) {
  let entry = state.jobs.get(job.id);
  const active = job.status === "queued" || job.status === "running";
  if (entry && entry.status === job.status && active) {
    entry.el.querySelector(".bar > div").style.width = `${Math.round(job.progress * 100)}%`;
    entry.el.querySelector(".status").textContent = statusLine(job);
    return;
  }
  const card = active ? activeCard(job) : resultCard(job);
  if (entry) entry.el.remove();
  const target = active ? $("queue") : $("results");
  if (active) target.append(card);
  else placeResult(card, job);
  state.jobs.set(job.id, { el: card, status: job.status, created: job.created });
  $("queue").querySelector(".empty").hidden = $("queue").querySelectorAll(".job").length > 0;
}

function placeResult(card, job) {
  card.dataset.created = job.created;
  const after = [...$("results").children].find((c) => Number(c.dataset.created) < job.created);
  $("results").insertBefore(card, after || null);
}

function title(params) {
  if (params.segments) return params.segments.map((s) => `${s.prompt || "(no prompt)"} (${s.duration} s)`).join(" → ");
  return params.prompt || "(no prompt)";
}

function header(job) {
  return [el("div", { class: "title" }, title(job.params)),
          el("div", { class: "meta" }, describe(job), " — ", el("span", { class: "status" }, statusLine(job)))];
}

function activeCard(job) {
  const live = el("audio", { preload: "none" });
  const variant = job.n > 1 ? el("select", { class: "live-variant", "aria-label": "variant to listen to" },
    ...[...Array(job.n).keys()].map((k) => el("option", { value: String(k) }, `variant ${k + 1}`))) : null;
  const listen = el("button", { class: "listen ghost", onclick: () => listenLive(job.id, live, listen, variant) },
                    "Listen live");
  if (variant) variant.addEventListener("change", () => { if (!live.paused) { live.pause(); listenLive(job.id, live, listen, variant); } });
  const card = el("div", { class: `job ${job.status}`, "data-id": job.id }, ...header(job),
    el("div", { class: "bar" }, el("div", { style: `width:${Math.round(job.progress * 100)}%` })),
    el("div", { class: "actions" },
      el("button", { class: "cancel danger", onclick: () => cancel(job.id) }, "Cancel"), listen, variant, live));
  return card;
}

function listenLive(id, audio, button, variant) {
  if (!audio.paused) { audio.pause(); button.textContent = "Listen live"; return; }
  audio.src = `/v1/jobs/${id}/stream?variant=${variant ? variant.value : 0}`;
  audio.play().then(() => { button.textContent = "Stop"; }).catch((e) => say(e.message, true));
}

function resultCard(job) {
  const card = el("div", { class: `job result ${job.status}`, "data-id": job.id }, ...header(job));
  const melodyOk = state.models.some((m) => m.capabilities.melody);
  (job.audio || []).forEach((url, k) => {
    const audio = el("audio", { preload: "none", src: `${url}?format=wav` });
    const canvas = el("canvas", { class: "waveform", "aria-label": `waveform of variant ${k + 1}` });
    const wave = new Waveform(canvas, audio);
    wave.load(`${url}?format=wav`).catch((e) => say(e.message, true));
    const play = el("button", { class: "play", "aria-label": "play" }, "▶");
    play.addEventListener("click", () => {
      if (audio.paused) audio.play().catch((e) => say(e.message, true)); else audio.pause();
    });
    audio.addEventListener("play", () => { play.textContent = "❚❚"; card.dataset.playing = "1"; });
    audio.addEventListener("pause", () => { play.textContent = "▶"; });
    const fmt = el("select", { class: "format", "aria-label": "download format" },
      ...FORMATS.map((f) => el("option", { value: f }, f)));
    const link = el("a", { class: "download", href: `${url}?format=wav`, download: `tonecraft-${job.id}-${k}.wav` }, "Download");
    fmt.addEventListener("change", () => {
      link.href = `${url}?format=${fmt.value}`;
      link.download = `tonecraft-${job.id}-${k}.${fmt.value}`;
    });
    const reuse = (mode) => async () => {
      try {
        const blob = await (await fetch(`${url}?format=wav`, { credentials: "same-origin" })).blob();
        const up = await uploadBlob(blob, `${job.id}-${k}.wav`, mode);
        $("prompt").value = job.params.prompt;
        setSegments(null);
        $("loop").checked = false;
        loopChanged();
        if (mode === "continuation") $("duration").value = Math.ceil(up.seconds + Number(job.params.duration));
        say(mode === "continuation" ? "Ready to extend: press Generate." : "Melody set: press Generate.");
        $("prompt").focus();
      } catch (e) { say(e.message, true); }
    };
    card.append(el("div", { class: "variant" }, play, canvas,
      el("div", { class: "actions" }, fmt, link,
        el("button", { class: "extend ghost", onclick: reuse("continuation") }, "Extend"),
        melodyOk ? el("button", { class: "melody ghost", onclick: reuse("melody") }, "Use as melody") : null,
        audio)));
  });
  if (job.error) card.append(el("div", { class: "error" }, job.error));
  card.append(el("div", { class: "actions" },
    el("button", { class: "reuse ghost", onclick: () => reuseSettings(job) }, "Reuse settings"),
    el("button", { class: "delete danger ghost", onclick: () => remove(job.id) }, "Delete")));
  return card;
}

function reuseSettings(job) {
  const p = job.params;
  $("seed").value = job.seed;
  $("prompt").value = p.prompt;
  $("duration").value = p.segments ? p.segments[0].duration : p.duration;
  $("watermark").checked = p.watermark !== false;
  $("loop").checked = Boolean(p.loop);
  if (p.loop) { $("bars").value = p.bars; $("bpm").value = p.bpm ?? ""; $("meter").value = p.meter; }
  if ([...$("model").options].some((o) => o.value === job.model)) { $("model").value = job.model; showExamples(); }
  setSegments(p.segments);
  loopChanged();
}

function follow(id) {
  const source = new EventSource(`/v1/jobs/${id}/events`);
  const update = (e) => show(JSON.parse(e.data));
  source.addEventListener("progress", update);
  for (const end of ["done", "failed", "cancelled"]) {
    source.addEventListener(end, (e) => { source.close(); update(e); });
  }
  source.addEventListener("deleted", () => source.close());
}

async function cancel(id) {
  try { await api(`/v1/jobs/${id}`, { method: "DELETE" }); } catch (e) { say(e.message, true); }
}

async function remove(id) {
  try {
    await api(`/v1/jobs/${id}`, { method: "DELETE" });
    const entry = state.jobs.get(id);
    if (entry) entry.el.remove();
    state.jobs.delete(id);
  } catch (e) { say(e.message, true); }
}

async function loadHistory() {
  const query = state.nextBefore ? `&before=${state.nextBefore}` : "";
  const page = await api(`/v1/jobs?limit=20${query}`);
  for (const job of page.jobs) {
    show(job);
    if (job.status === "queued" || job.status === "running") follow(job.id);
    if (state.lastSeed === null) state.lastSeed = job.seed;
  }
  state.nextBefore = page.next_before;
  $("more").hidden = !page.next_before;
}

// -- start ---------------------------------------------------------------------------------------------------------

async function start() {
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); generate(); }
  });
  $("generate").addEventListener("click", generate);
  $("reuse-seed").addEventListener("click", () => { if (state.lastSeed !== null) $("seed").value = state.lastSeed; });
  $("random-seed").addEventListener("click", () => { $("seed").value = ""; });
  $("add-segment").addEventListener("click", () => addSegment().focus());
  $("duration").addEventListener("input", segmentsChanged);
  $("model").addEventListener("change", () => { showExamples(); applyModelDefaults(); loopChanged(); });
  $("loop").addEventListener("change", loopChanged);
  $("more").addEventListener("click", () => loadHistory().catch((e) => say(e.message, true)));
  $("record").addEventListener("click", toggleRecording);
  $("reference-mode").addEventListener("change", () => {
    if (state.reference) state.reference.mode = $("reference-mode").value;
  });
  $("reference").addEventListener("change", async () => {
    const file = $("reference").files[0];
    if (!file) { state.reference = null; $("reference-info").textContent = ""; return; }
    try { await uploadBlob(file, file.name, $("reference-mode").value); } catch (e) {
      state.reference = null; $("reference-info").textContent = ""; say(e.message, true);
    }
  });
  try {
    state.models = (await api("/v1/models")).models;
    for (const m of state.models) {
      $("model").append(el("option", { value: m.name }, modelLabel(m)));
    }
    showExamples();
    applyModelDefaults();
    loopChanged();
    await loadHistory();
    document.body.dataset.ready = "1";
  } catch (e) {
    say(e.message, true);
  }
}

start();
