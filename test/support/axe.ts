import { AxeBuilder } from '@axe-core/playwright';
import type { Page } from 'playwright-core';

/**
 * Runs axe-core (WCAG 2.x A and AA rules, contrast and labels included) on what the page
 * shows now, and fails with each violation's rule and the elements it found.
 */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  // Let CSS transitions and the focus move of a fresh view settle before measuring contrast.
  await page.waitForLoadState('domcontentloaded');
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'])
    .analyze();
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
