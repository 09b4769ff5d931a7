import net from 'node:net';
import { startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

/** Errors raised by Fastify itself (routing, parsing) are problem+json with a code too. */
async function expectProblem(
  request: Parameters<TestApi['inject']>[0],
  status: number,
  code: string,
) {
  const response = await api.inject(request);
  expect(response.statusCode).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  // Answered before routing, yet with the security headers of every other answer (a
  // black-box tester found them missing on these).
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
  const body = response.json<{ code: string; status: number; title: string; type: string }>();
  expect(body).toMatchObject({ code, status });
  expect(typeof body.title).toBe('string');
  expect(typeof body.type).toBe('string');
}

describe('framework errors', () => {
  it('answers a path parameter over 100 characters with 414 URI_TOO_LONG', async () => {
    await expectProblem(
      { method: 'GET', url: `/concerts/${'c'.repeat(101)}/dates` },
      414,
      'URI_TOO_LONG',
    );
  });

  it('answers a malformed URL with 400 VALIDATION_FAILED', async () => {
    await expectProblem(
      { method: 'GET', url: '/concert-times/%zz/seats' },
      400,
      'VALIDATION_FAILED',
    );
  });

  it('answers an unknown route with 404 NOT_FOUND', async () => {
    await expectProblem({ method: 'GET', url: '/no/such/route' }, 404, 'NOT_FOUND');
  });

  it('answers a body on GET or a bad content-length as problem+json', async () => {
    const response = await fetch(`${api.baseUrl}/wallet/charges`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-16' },
      body: '{}',
    });
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await response.json()) as { code: string }).toHaveProperty('code');
  });

  // Found by a black-box tester: Node's own refusals (before Fastify) were plain JSON.
  it.each([
    [
      'headers past 16 KB',
      `GET /healthz HTTP/1.1\r\nHost: x\r\nLast-Event-ID: ${'a'.repeat(17_000)}\r\n\r\n`,
    ],
    [
      'a control character in a header',
      'GET /healthz HTTP/1.1\r\nHost: x\r\nLast-Event-ID: a\x01b\r\n\r\n',
    ],
    ['a malformed request line', 'GET /healthz HTTP/9\r\n\r\n'],
  ])('answers a request Node cannot parse (%s) with a problem+json 400', async (_what, raw) => {
    const { port } = new URL(api.baseUrl);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(raw));
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head).toMatch(/content-type: application\/problem\+json/i);
    expect(head).toMatch(/^x-content-type-options: nosniff$/im);
    expect(head).toMatch(/^content-security-policy: default-src 'self'/im);
    expect(JSON.parse(body!)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
  });
});
