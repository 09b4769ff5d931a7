import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * helmet's headers, worked out once: with no per-request directive (no nonce) they are the
 * same on every answer, and helmet's middleware would rebuild the policy for each one.
 */
function helmetHeaders(options: Parameters<typeof helmet>[0]): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const collector = {
    setHeader: (name: string, value: string) => (headers[name.toLowerCase()] = value),
    removeHeader: () => undefined,
  };
  helmet(options)(
    {} as IncomingMessage,
    collector as unknown as ServerResponse,
    (error?: unknown) => {
      if (error) throw new Error('helmet refused its options', { cause: error });
    },
  );
  return headers;
}

/**
 * The security headers of every answer: app.ts adds them to each reply, and the answers
 * sent before routing (problem-details.ts: a malformed URL, a request Node refuses) carry
 * them too. helmet's default CSP allows what the Swagger UI at /docs loads (its own
 * scripts, inline styles). No upgrade-insecure-requests: TLS usually ends at a proxy, and
 * on plain HTTP that directive sends /docs' own stylesheets and scripts to an https://
 * that is not there. The web pages (routes/web.ts) send a stricter policy of their own.
 */
export const securityHeaders = helmetHeaders({
  contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
});
