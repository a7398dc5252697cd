// What `wgts doctor` reports: one result per check (passed ✔, failed ✘ with the fix, or skipped –
// with the reason, such as "needs the interface running"), and how the report is printed: one
// line per check, or JSON.

export type CheckStatus = 'pass' | 'fail' | 'skip';

/** One check's outcome. */
export interface CheckResult {
  /** Stable identifier (`udp-port`, `forwarding`, ...). */
  id: string;
  /** What is checked, for people. */
  title: string;
  status: CheckStatus;
  /** What was found (one line). */
  detail: string;
  /** How to fix a failure (one line). */
  fix?: string;
  /** The check looks at the running interface (skipped when it is not running). */
  needsRunning?: boolean;
}

/** The whole report. */
export interface DoctorReport {
  file: string;
  interface: string;
  role: 'gateway' | 'laptop' | 'unknown';
  /** The wgts up running this interface here, if any. */
  running: { pid: number } | null;
  /** True when no check failed. */
  ok: boolean;
  checks: CheckResult[];
}

export const pass = (id: string, title: string, detail: string, needsRunning = false): CheckResult =>
  (needsRunning ? { id, title, status: 'pass', detail, needsRunning } : { id, title, status: 'pass', detail });

export const fail = (id: string, title: string, detail: string, fix: string, needsRunning = false): CheckResult =>
  (needsRunning ? { id, title, status: 'fail', detail, fix, needsRunning } : { id, title, status: 'fail', detail, fix });

export const skip = (id: string, title: string, detail: string, needsRunning = false): CheckResult =>
  (needsRunning ? { id, title, status: 'skip', detail, needsRunning } : { id, title, status: 'skip', detail });

const MARK: Record<CheckStatus, string> = { pass: '✔', fail: '✘', skip: '–' };

/** The report as text: a header, one line per check, a summary. */
export function formatReport(r: DoctorReport): string {
  const role = r.role === 'unknown' ? '' : `${r.role} `;
  const state = r.running ? `running here (pid ${r.running.pid})` : 'not running here';
  const lines = [`wgts doctor ${r.file}: ${role}${r.interface}, ${state}`];
  for (const c of r.checks) {
    const fix = c.status === 'fail' && c.fix ? ` — fix: ${c.fix}` : '';
    lines.push(`${MARK[c.status]} ${c.title}: ${c.detail}${fix}`);
  }
  const n = (s: CheckStatus): number => r.checks.filter((c) => c.status === s).length;
  const waiting = r.checks.filter((c) => c.status === 'skip' && c.needsRunning).map((c) => c.title);
  const skipped = n('skip') > 0 ? `, ${n('skip')} skipped${waiting.length > 0 ? ` (${waiting.join(', ')}: need the interface running)` : ''}` : '';
  lines.push(`${n('pass')} passed, ${n('fail')} failed${skipped}`);
  return `${lines.join('\n')}\n`;
}
