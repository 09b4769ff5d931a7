import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AxeResults } from 'axe-core';
import type { Page } from 'playwright-core';

// axe-core itself, injected through page.evaluate (the DevTools protocol is not bound by the
// pages' CSP). Not @axe-core/playwright: that wrapper declares node >= 22.12 and so breaks
// a quiet `npm ci` on Node 20, which we still support.
const axeSource = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];

/**
 * Runs axe-core (WCAG 2.x A and AA rules, contrast and labels included) on what the page
 * shows now, and fails with each violation's rule and the elements it found.
 */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  // Let CSS transitions and the focus move of a fresh view settle before measuring contrast.
  await page.waitForLoadState('domcontentloaded');
  await page.evaluate(axeSource);
  const results = (await page.evaluate((tags) => {
    const window = globalThis as unknown as {
      document: unknown;
      axe: { run: (context: unknown, options: unknown) => Promise<unknown> };
    };
    return window.axe.run(window.document, { runOnly: { type: 'tag', values: tags } });
  }, TAGS)) as AxeResults;
  const found = results.violations.map(
    (violation) =>
      `${violation.id} (${violation.impact}): ${violation.help}\n` +
      violation.nodes
        .slice(0, 5)
        .map((node) => `    ${node.target.join(' ')}: ${node.failureSummary ?? ''}`)
        .join('\n'),
  );
  if (found.length) throw new Error(`axe found problems on ${what}:\n${found.join('\n')}`);
  expect(results.violations).toEqual([]);
}
