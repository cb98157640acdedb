// The playground page: microphone → AudioWorklet → 8 kHz μ-law 20 ms frames → the gateway's Plivo stream route,
// speaking Plivo's messages exactly (start, media, stop out; playAudio, checkpoint, clearAudio in; playedStream,
// clearedAudio back). Call events (transcripts, tools, the simulated phone) arrive on a second socket, so the
// media socket stays the protocol a phone call uses. `window.playground` exposes counters for the browser test.
const token = new URLSearchParams(location.search).get('token') ?? '';
const $ = (id) => document.getElementById(id);
const wsBase = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
const VOICE_RMS = 0.01; // -40 dBFS: the level the Gemini emulator's VAD counts as speech

const stats = {
  mediaSent: 0,
  playAudio: 0,
  checkpoints: 0,
  playedStream: 0,
  clearAudio: 0,
  clearedAudio: 0,
  queued: 0, // 8 kHz samples handed to the player
  played: 0, // 8 kHz samples the player has played
  lastClearAt: 0, // performance.now() of the last clear done by the player
};
const meter = { max: 0, log: [] };
const pg = { stats, meter, latencies: [], messages: [], ended: undefined, error: undefined };
window.playground = pg;

// G.711 μ-law decoding table.
const ULAW = new Float32Array(256);
for (let i = 0; i < 256; i++) {
  const u = ~i & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u >> 4) & 7);
  ULAW[i] = (u & 0x80 ? 0x84 - t : t - 0x84) / 32768;
}

let call; // the current call, or undefined

function api(path, init = {}) {
  return fetch(path, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } }).then(async (r) => {
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(Array.isArray(body.error) ? body.error.join('; ') : body.error || `HTTP ${r.status}`);
    return body;
  });
}

function setStatus(text) {
  $('status').textContent = text;
}

function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

// ── transcript ───────────────────────────────────────────────────────────────────────────────────────────────
const open = { caller: undefined, agent: undefined };
let pendingLatency;

function item(cls, who) {
  const li = document.createElement('li');
  li.className = cls;
  if (who) {
    const w = document.createElement('span');
    w.className = 'who';
    w.textContent = who;
    li.append(w);
  }
  const list = $('transcript');
  list.append(li);
  list.scrollTop = list.scrollHeight;
  return li;
}

function bubble(side) {
  if (!open[side]) {
    const li = item(side, side === 'agent' ? 'Agent' : 'You');
    const text = document.createElement('span');
    text.className = 'text';
    li.append(text);
    open[side] = li;
    if (side === 'caller') open.agent = undefined;
    else open.caller = undefined;
  }
  if (side === 'agent' && pendingLatency !== undefined) {
    const b = document.createElement('span');
    b.className = 'latency';
    b.textContent = `answered in ${pendingLatency} ms`;
    open.agent.querySelector('.who').append(b);
    pendingLatency = undefined;
  }
  return open[side];
}

function say(side, text) {
  const b = bubble(side);
  b.querySelector('.text').textContent += text;
  $('transcript').scrollTop = $('transcript').scrollHeight;
}

function note(text) {
  item('note').textContent = text;
}

function json(v) {
  const s = JSON.stringify(v);
  return s.length > 400 ? `${s.slice(0, 400)}…` : s;
}

function phone(kind, text) {
  const li = document.createElement('li');
  const k = document.createElement('span');
  k.className = 'kind';
  k.textContent = kind;
  li.append(k, document.createTextNode(text));
  $('phone-log').append(li);
}

const tools = new Map();

function onPageMessage(m) {
  pg.messages.push(m);
  if (m.type === 'phone') {
    if (m.action === 'sms') phone(`SMS from ${m.from}`, m.text);
    else if (m.action === 'transfer') phone('Transfer', `Call handed to a human at ${m.to}`);
    else if (m.action === 'hangup') phone('Hang-up', 'The agent hung up.');
    return;
  }
  if (m.type === 'ended') {
    pg.ended = m;
    note(`Call ended (${m.reason}). Record ${m.recordId}.`);
    return;
  }
  const e = m.event;
  switch (e.type) {
    case 'caller-text':
      say('caller', e.text);
      break;
    case 'agent-text':
      say('agent', e.text);
      break;
    case 'agent-turn-end':
      open.agent = undefined;
      break;
    case 'interrupted': {
      const b = open.agent;
      if (b) {
        const c = document.createElement('span');
        c.className = 'cut';
        c.textContent = `cut off${e.heardMs !== undefined ? ` after ${Math.round(e.heardMs)} ms heard` : ''}`;
        b.querySelector('.who').append(c);
      }
      open.agent = undefined;
      break;
    }
    case 'tool-start': {
      open.agent = undefined;
      open.caller = undefined;
      const li = item('tool', `Tool ${e.name}`);
      const code = document.createElement('code');
      code.textContent = `args ${json(e.args)}`;
      li.append(code);
      tools.set(e.id, li);
      break;
    }
    case 'tool-end': {
      const li = tools.get(e.id) ?? item('tool', `Tool ${e.name}`);
      const code = document.createElement('code');
      code.textContent = `\n→ ${e.outcome} in ${Math.round(e.ms)} ms: ${json(e.response)}`;
      li.append(code);
      break;
    }
    case 'hangup-requested':
      note(`The agent is ending the call (${e.reason}).`);
      break;
    case 'fatal':
      note(`Agent unavailable: ${e.message}`);
      break;
    case 'reconnect':
      note(`Gemini session ${e.kind} (${e.reason}).`);
      break;
    default:
      break;
  }
}

// ── call ─────────────────────────────────────────────────────────────────────────────────────────────────────
async function start() {
  $('start').disabled = true;
  setStatus('Starting…');
  try {
    const ctx = new AudioContext({ latencyHint: 'interactive' });
    await ctx.audioWorklet.addModule('/playground/assets/mic-worklet.js');
    await ctx.audioWorklet.addModule('/playground/assets/player-worklet.js');
    const media = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    const minted = await api('/playground/api/calls', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        prompt: $('prompt').value,
        voice: $('voice').value || undefined,
        openingReason:
          $('prompt').value === 'outbound' && $('reason').value.trim() ? $('reason').value.trim() : undefined,
      }),
    });
    $('phone-number').textContent = minted.phoneNumber;
    call = connect(ctx, media, minted);
  } catch (err) {
    pg.error = String(err?.message ?? err);
    setStatus(`Could not start: ${pg.error}`);
    $('start').disabled = false;
  }
}

function connect(ctx, media, minted) {
  const streamId = crypto.randomUUID();
  const epoch = Date.now();
  let seq = 0;
  let chunk = 0;
  // Response latency, once per caller utterance: from its last voiced frame to the first agent sample played
  // after it (audio-clock times of the same AudioContext). An utterance starts after 300 ms without voice.
  let lastVoice = -1;
  let measured = true;
  const marks = []; // checkpoints waiting to be played: { name, at } (at: sample counter)
  const c = { ended: false, hangup };

  const events = new WebSocket(`${wsBase}${minted.eventsPath}?token=${encodeURIComponent(token)}`);
  events.onmessage = (e) => onPageMessage(JSON.parse(e.data));

  const ws = new WebSocket(`${wsBase}${minted.streamPath}`);
  const send = (m) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
  };

  const source = ctx.createMediaStreamSource(media);
  const mic = new AudioWorkletNode(ctx, 'mic-processor', { numberOfOutputs: 1, outputChannelCount: [1] });
  const sink = ctx.createGain();
  sink.gain.value = 0; // keeps the mic node pulled by the graph without playing it back
  const player = new AudioWorkletNode(ctx, 'player-processor', { numberOfInputs: 0, outputChannelCount: [1] });
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  player.connect(analyser).connect(ctx.destination);

  const tail = `,"extra_headers":""}`;
  mic.port.onmessage = (e) => {
    const m = e.data;
    if (m.type !== 'frame' || ws.readyState !== WebSocket.OPEN || c.ended) return;
    if (m.rms > VOICE_RMS) {
      if (m.time - lastVoice > 0.3) measured = false;
      lastVoice = m.time;
    }
    $('mic-level').value = Math.min(1, m.rms * 8);
    chunk++;
    ws.send(
      `{"event":"media","sequenceNumber":${++seq},"streamId":"${streamId}","media":{"track":"inbound","timestamp":"${
        epoch + (chunk - 1) * 20
      }","chunk":${chunk},"payload":"${toBase64(m.payload)}"}${tail}`,
    );
    stats.mediaSent++;
  };

  const ackMarks = () => {
    while (marks.length > 0 && marks[0].at <= stats.played) {
      send({ event: 'playedStream', sequenceNumber: ++seq, streamId, name: marks.shift().name });
      stats.playedStream++;
    }
  };

  player.port.onmessage = (e) => {
    const m = e.data;
    if (m.type === 'played' || m.type === 'stopped') {
      stats.played = m.played;
      ackMarks();
    } else if (m.type === 'started') {
      // The agent's answer starts leaving the jitter buffer: its latency is from the end of the caller's speech.
      if (!measured && m.time - lastVoice > 0.1) {
        measured = true;
        const ms = Math.round((m.time - lastVoice) * 1000);
        pg.latencies.push(ms);
        pendingLatency = ms;
        if (open.agent) bubble('agent');
      }
    } else if (m.type === 'cleared') {
      // Audio that will never play: Plivo never acknowledges the checkpoints behind it either.
      stats.played = m.played;
      stats.queued = m.played;
      marks.length = 0;
      stats.lastClearAt = performance.now();
      send({ event: 'clearedAudio', sequenceNumber: ++seq, streamId });
      stats.clearedAudio++;
    }
  };

  ws.onopen = () => {
    send({
      event: 'start',
      sequenceNumber: ++seq,
      start: {
        callId: minted.callId,
        streamId,
        accountId: 'playground',
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000 },
      },
      extra_headers: '',
    });
    source.connect(mic).connect(sink).connect(ctx.destination);
    setStatus(`In call (${minted.prompt} prompt, voice ${minted.voice}). Speak.`);
    $('hangup').disabled = false;
  };

  ws.onmessage = (e) => {
    let m;
    try {
      m = JSON.parse(e.data);
    } catch {
      return;
    }
    switch (m.event) {
      case 'playAudio': {
        const bin = atob(m.media.payload);
        const samples = new Float32Array(bin.length);
        for (let i = 0; i < bin.length; i++) samples[i] = ULAW[bin.charCodeAt(i)];
        stats.queued += samples.length;
        stats.playAudio++;
        player.port.postMessage({ type: 'push', samples }, [samples.buffer]);
        break;
      }
      case 'checkpoint':
        stats.checkpoints++;
        marks.push({ name: m.name, at: stats.queued });
        ackMarks();
        break;
      case 'clearAudio':
        stats.clearAudio++;
        player.port.postMessage({ type: 'clear' });
        break;
      default:
        break;
    }
  };

  ws.onclose = (e) => finish(e.code === 1000 || c.ended ? 'Call ended.' : `Stream closed (${e.code} ${e.reason}).`);
  ws.onerror = () => setStatus('Stream error.');

  const levels = new Float32Array(analyser.fftSize);
  const poll = setInterval(() => {
    analyser.getFloatTimeDomainData(levels);
    let sum = 0;
    for (let i = 0; i < levels.length; i++) sum += levels[i] * levels[i];
    const rms = Math.sqrt(sum / levels.length);
    meter.max = Math.max(meter.max, rms);
    meter.log.push({ t: performance.now(), rms });
    if (meter.log.length > 4000) meter.log.splice(0, 1000);
    $('agent-level').value = Math.min(1, rms * 6);
    renderStats();
  }, 50);

  function hangup() {
    if (c.ended) return;
    send({
      event: 'stop',
      sequenceNumber: ++seq,
      streamId,
      stop: { callId: minted.callId, streamId, reason: 'caller hung up' },
      extra_headers: '',
    });
    ws.close(1000, 'hangup');
    finish('You hung up.');
  }

  function finish(text) {
    if (c.ended) return;
    c.ended = true;
    setStatus(text);
    $('hangup').disabled = true;
    $('start').disabled = false;
    for (const t of media.getTracks()) t.stop();
    source.disconnect();
    // Keep the events socket a moment: the record id and the last events arrive after the stream closes.
    setTimeout(() => {
      events.close();
      clearInterval(poll);
      renderStats();
      void ctx.close();
    }, 1500);
    call = undefined;
  }
  return c;
}

function renderStats() {
  const rows = [
    ['frames sent', stats.mediaSent],
    ['playAudio', stats.playAudio],
    ['jitter buffer', `${Math.max(0, Math.round((stats.queued - stats.played) / 8))} ms`],
    ['checkpoints played', `${stats.playedStream}/${stats.checkpoints}`],
    ['barge-in clears', stats.clearedAudio],
    ['last answer latency', pg.latencies.length ? `${pg.latencies.at(-1)} ms` : '–'],
  ];
  const dl = $('stats');
  dl.replaceChildren(
    ...rows.flatMap(([k, v]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = String(v);
      return [dt, dd];
    }),
  );
}

async function init() {
  $('start').addEventListener('click', () => void start());
  $('hangup').addEventListener('click', () => call?.hangup());
  const syncReason = () => {
    $('reason').disabled = $('prompt').value !== 'outbound';
  };
  $('prompt').addEventListener('change', syncReason);
  syncReason();
  renderStats();
  try {
    const o = await api('/playground/api/options');
    for (const v of o.voices) {
      const opt = document.createElement('option');
      opt.value = v;
      opt.textContent = v;
      if (v === o.defaultVoice) opt.selected = true;
      $('voice').append(opt);
    }
    pg.ready = true;
  } catch (err) {
    setStatus(`Playground unavailable: ${err.message}`);
  }
}

void init();
