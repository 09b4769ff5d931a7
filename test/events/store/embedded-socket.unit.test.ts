import { socketDirectory } from '../../../src/events/store/embedded/server-process.js';

describe('the embedded server socket directory', () => {
  it('is the cluster directory while the socket path fits the kernel limit (107 bytes)', () => {
    expect(socketDirectory('/root/app/.data/pg', 5433)).toBe('/root/app/.data/pg');
    // 94 bytes of directory + "/.s.PGSQL.5433" (14) = 108: one too many.
    const deep = `/${'d'.repeat(93)}`;
    expect(socketDirectory(deep, 5433)).toBeUndefined();
    expect(socketDirectory(deep.slice(0, -1), 5433)).toBe(deep.slice(0, -1));
  });
});
