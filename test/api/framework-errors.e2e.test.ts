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
});
