import { extrapolateWaiting } from '../../bench/waiting-extrapolation.js';
import type { WaitingRun } from '../../bench/waiting.js';

const run = (overrides: Partial<WaitingRun>): WaitingRun => ({
  connections: 10_000,
  waiting: 10_000,
  rssBeforeMb: 100,
  rssOpenMb: 200,
  rssPerConnectionKb: 10.24,
  rssBeforeBytes: 100 * 2 ** 20,
  openSeconds: 5,
  moves: 4,
  heard: 40_000,
  expected: 40_000,
  p50Ms: 200,
  p99Ms: 400,
  lastHeardMaxMs: 500,
  cpuPerSecond: 0.2,
  cpuPerMoveMs: 100,
  messagesPerSecond: 0.3,
  busiestPerSecond: 0.5,
  closeTogether: 0,
  joinBefore: { p50Ms: 1, p99Ms: 2, perSecond: 1000 },
  joinDuring: { p50Ms: 1, p99Ms: 2, perSecond: 1000 },
  healthBefore: { lagMaxMs: 10, lagP99Ms: 10, gcMs: {} },
  healthDuring: { lagMaxMs: 10, lagP99Ms: 10, gcMs: {} },
  passBusyMsPerMove: 50,
  passMicrosPerMessage: 20,
  ...overrides,
});
const figure = (figures: { name: string; value: number }[], part: string) =>
  figures.find((entry) => entry.name.includes(part));

describe('the waiting bench extrapolation to 100,000 connections', () => {
  it('fits a line through two sizes, and labels every figure as extrapolated', () => {
    const { figures, notes } = extrapolateWaiting([
      run({}),
      run({ connections: 20_000, rssOpenMb: 300, lastHeardMaxMs: 700 }),
    ]);
    expect(figures.every((entry) => entry.name.startsWith('EXTRAPOLATED to 100,000'))).toBe(true);
    // 100 MB per 10,000 streams: 1,100 MB at 100,000, 1,000 MB of it for the streams.
    expect(figure(figures, 'service RSS per connection')!.value).toBeCloseTo(10.2, 1);
    expect(figures.find((entry) => entry.name.endsWith(': service RSS'))!.value).toBe(1100);
    // 200 ms more per 10,000 streams: 2,300 ms at 100,000.
    expect(figure(figures, 'worst move')!.value).toBe(2300);
    expect(figure(figures, 'worst move')!.name).not.toContain('upper bound');
    expect(figure(figures, 'messages per connection')!.value).toBe(0.5);
    expect(notes.join(' ')).toContain('not measured');
  });

  it('with one size gives the hearing time as an upper bound, and no RSS from noise', () => {
    const { figures, notes } = extrapolateWaiting([
      run({ connections: 500, rssOpenMb: 90, rssPerConnectionKb: -20 }),
    ]);
    expect(figure(figures, 'RSS')).toBeUndefined();
    expect(notes.join(' ')).toContain('RSS not extrapolated');
    const worst = figure(figures, 'worst move')!;
    expect(worst.name).toContain('upper bound');
    // 500 ms measured, plus 100 ms of CPU per move / 500 streams * 99,500 more streams.
    expect(worst.value).toBe(500 + 19_900);
  });
});
