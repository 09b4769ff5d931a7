import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

export const issuer = 'https://id.test.example/';
export const audience = 'concert-api';

interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly jwk: JWK;
}

async function newKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return {
    kid,
    privateKey,
    publicKey,
    jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
  };
}

/**
 * A test identity provider in the test process: RSA keys made with jose and a JWKS served
 * on a loopback port, as a real OIDC provider serves `.../.well-known/jwks.json`.
 */
export class TestIdentityProvider {
  private keys: SigningKey[] = [];
  private server: Server | undefined;
  /** How many times the key set was fetched. */
  fetches = 0;

  private constructor(private port = 0) {}

  static async start(): Promise<TestIdentityProvider> {
    const provider = new TestIdentityProvider();
    provider.keys = [await newKey('key-1')];
    await provider.listen();
    return provider;
  }

  get jwksUrl(): string {
    return `http://127.0.0.1:${this.port}/.well-known/jwks.json`;
  }

  /** The environment that points the API at this provider. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return { AUTH_JWKS_URL: this.jwksUrl, AUTH_ISSUER: issuer, AUTH_AUDIENCE: audience, ...extra };
  }

  private get current(): SigningKey {
    return this.keys[this.keys.length - 1]!;
  }

  /** A signed RS256 access token for `sub`; `claims` and `lifetimeSeconds` override the defaults. */
  async token(
    sub: string | undefined,
    options: { claims?: JWTPayload; lifetimeSeconds?: number; kid?: string } = {},
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const key = this.current;
    const jwt = new SignJWT({
      iss: issuer,
      aud: audience,
      iat: now,
      exp: now + (options.lifetimeSeconds ?? 300),
      ...options.claims,
    }).setProtectedHeader({ alg: 'RS256', kid: options.kid ?? key.kid, typ: 'JWT' });
    if (sub !== undefined) jwt.setSubject(sub);
    return jwt.sign(key.privateKey);
  }

  /** The current public key as PEM: what an algorithm-confusion attacker would use as an HS256 secret. */
  publicKeyPem(): Promise<string> {
    return exportSPKI(this.current.publicKey);
  }

  /** A new signing key under a new kid, published beside the old one. */
  async rotate(kid: string): Promise<void> {
    this.keys = [...this.keys, await newKey(kid)];
  }

  /** Stops answering: the key set becomes unreachable. */
  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  /** Answers again, on the same port, after stop(). */
  restart(): Promise<void> {
    return this.listen();
  }

  private listen(): Promise<void> {
    const server = createServer((request, response) => {
      if (request.url !== '/.well-known/jwks.json') {
        response.writeHead(404).end();
        return;
      }
      this.fetches += 1;
      response
        .writeHead(200, { 'content-type': 'application/jwk-set+json' })
        .end(JSON.stringify({ keys: this.keys.map((key) => key.jwk) }));
    });
    // Keep-alive sockets would hold stop() open.
    server.keepAliveTimeout = 1;
    this.server = server;
    return new Promise((resolve) =>
      server.listen(this.port, '127.0.0.1', () => {
        this.port = (server.address() as AddressInfo).port;
        resolve();
      }),
    );
  }
}

/** `header.payload.` with `alg: none`: what a forger sends when there is no key to steal. */
export function unsignedToken(claims: JWTPayload): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/** An HS256 token signed with `secret` (a shared secret, or a stolen public key's bytes). */
export function hs256Token(secret: string, sub: string, claims: JWTPayload = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: issuer, aud: audience, exp: now + 300, ...claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .sign(new TextEncoder().encode(secret));
}
