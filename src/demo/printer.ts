// Human-readable console output for the demo: a timestamped transcript, agent text streamed as it arrives, tool
// activity with timings. Colours only on a terminal.
import type { CallEvent } from '../calls/events.ts';

export interface DemoSummary {
  endReason: string;
  plivoStatus: string;
  sms: string[];
  hangupRequests: number;
  turns: number;
  tools: string[];
  usageTokens: number;
}

export function createPrinter(stream: NodeJS.WriteStream) {
  const tty = stream.isTTY === true;
  const c = (code: string) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
  const dim = c('2');
  const bold = c('1');
  const cyan = c('36');
  const green = c('32');
  const yellow = c('33');
  const red = c('31');
  const magenta = c('35');
  let t0 = performance.now();
  let agentLineOpen = false;
  // Gemini streams the caller's transcript in fragments (a word or so at a time): gather them into one line.
  let heard = '';

  const stamp = () => dim(`[${fmt(performance.now() - t0)}]`);
  const write = (s: string) => stream.write(s);
  const line = (s: string) => {
    flushHeard();
    closeAgentLine();
    write(`${s}\n`);
  };
  const flushHeard = () => {
    if (heard === '') return;
    const text = heard.trim();
    heard = '';
    // The emulator does not recognise speech: its "transcription" is the scenario's script for that utterance.
    line(dim(`           (emulated Gemini's input transcription, scripted: "${text}")`));
  };
  const closeAgentLine = () => {
    if (agentLineOpen) write('\n');
    agentLineOpen = false;
  };

  return {
    banner(title: string) {
      write(`\n${bold(title)}\n${dim('─'.repeat(Math.min(100, title.length)))}\n`);
    },
    start() {
      t0 = performance.now();
    },
    note(text: string) {
      line(dim(`           ${text}`));
    },
    callerSays(text: string) {
      line(`${stamp()} ${bold(green('Caller'))} ${dim('(scripted)')}: ${text}`);
    },
    event(e: CallEvent) {
      switch (e.type) {
        case 'session-opened':
          line(dim(`${stamp()} Gemini Live session opening${e.warm ? ' at the answer webhook (warm start)' : ''}`));
          break;
        case 'stream-attached':
          line(dim(`${stamp()} Plivo audio stream connected`));
          break;
        case 'opening':
          line(
            dim(
              e.sent
                ? `${stamp()} opening turn handed to the Gemini session (${e.why}): the agent speaks first`
                : `${stamp()} opening turn not needed (${e.why})`,
            ),
          );
          break;
        case 'filler':
          line(dim(`${stamp()} Gemini not ready yet: playing the "one moment" filler prompt`));
          break;
        case 'machine':
          line(
            `${stamp()} ${yellow('answering machine')} detected → ${e.action === 'hangup' ? 'hanging up' : 'leaving the voicemail message'}`,
          );
          break;
        case 'silent-turn':
          line(
            `${stamp()} ${yellow('silent agent turn')} → ${e.action === 'reprompt' ? 're-prompting the model' : 'giving up'}`,
          );
          break;
        case 'caller-text':
          heard += heard === '' || /^\s/.test(e.text) ? e.text : ` ${e.text}`;
          break;
        case 'agent-text':
          flushHeard();
          if (!agentLineOpen) {
            write(`${stamp()} ${bold(cyan('Agent'))} ${dim('(scripted)')}: `);
            agentLineOpen = true;
            write(e.text.trimStart());
          } else {
            write(/^[\s.,!?]/.test(e.text) ? e.text : ` ${e.text}`);
          }
          break;
        case 'agent-turn-end':
          closeAgentLine();
          break;
        case 'interrupted':
          line(
            `${stamp()} ${yellow('⚡ barge-in')}: clearAudio sent ${e.clearMs.toFixed(2)} ms after "interrupted"` +
              (e.heardMs === undefined ? '' : `; caller heard ${(e.heardMs / 1000).toFixed(1)} s of that turn`),
          );
          break;
        case 'tool-start':
          line(`${stamp()} ${magenta('🔧 tool')} ${bold(e.name)} ${dim(JSON.stringify(e.args))}`);
          break;
        case 'tool-end': {
          const ok = e.outcome === 'ok';
          const mark = ok ? green(`✓ ${e.outcome}`) : red(`✗ ${e.outcome}`);
          line(`${stamp()}    ${mark} in ${e.ms.toFixed(0)} ms → ${dim(brief(e.response))}`);
          break;
        }
        case 'reconnect':
          line(`${stamp()} ${yellow('↻ Gemini reconnected')} (${e.kind}: ${e.reason})`);
          break;
        case 'hangup-requested':
          line(
            `${stamp()} 📴 agent ended the call (${e.reason}); hanging up once Plivo confirms the goodbye was heard`,
          );
          break;
        case 'fatal':
          line(`${stamp()} ${red('Gemini unavailable')}: ${e.message}; playing the technical-difficulty prompt`);
          break;
        case 'hung-up':
          line(`${stamp()} 📴 goodbye played (Plivo playedStream) → call hung up through the Plivo API`);
          break;
        case 'ended':
          line(dim(`${stamp()} call ended in the gateway: ${e.reason}`));
          break;
      }
    },
    summary(s: DemoSummary) {
      line('');
      line(bold('Summary'));
      line(`  end reason        ${s.endReason} (Plivo call status: ${s.plivoStatus})`);
      line(`  transcript turns  ${s.turns}`);
      line(`  tool calls        ${s.tools.join(', ') || 'none'}`);
      line(`  SMS sent          ${s.sms.join('; ') || 'none'}`);
      line(`  hang-up requests  ${s.hangupRequests} (Plivo REST DELETE Call)`);
      line(`  tokens (emulated) ${s.usageTokens}`);
    },
  };
}

function fmt(ms: number): string {
  const s = ms / 1000;
  const m = Math.floor(s / 60);
  return `${String(m).padStart(2, '0')}:${(s - m * 60).toFixed(1).padStart(4, '0')}`;
}

function brief(r: Record<string, unknown>): string {
  const text = JSON.stringify(r);
  return text.length > 140 ? `${text.slice(0, 139)}…` : text;
}
