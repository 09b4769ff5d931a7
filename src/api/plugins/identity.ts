import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type JWSHeaderParameters,
  type FlattenedJWSInput,
  type JWTVerifyOptions,
  type CryptoKey,
} from 'jose';
import { DomainError } from '../../commands/errors.js';
import type { Clock } from '../../commands/clock.js';
import type { IdentitySource } from '../../config.js';

/** Verifies `Authorization: Bearer <JWT>` and returns the caller's user id (`sub`). */
export type VerifyCaller = (authorization: string | undefined) => Promise<string>;

/**
 * Any printable text up to 255 characters (`auth0|abc`, an email, a UUID). Control and
 * format characters are refused: ids are joined with \u001f to derive payment ids.
 */
export const subjectFormat = /^[^\p{C}]{1,255}$/u;

/** Asymmetric algorithms only: an HS256 token "signed" with a public key never verifies. */
const asymmetricAlgorithms = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
];
/** Seconds of clock difference tolerated between us and the identity provider. */
const clockToleranceSeconds = 30;

/** The key set could not be fetched and no key fetched earlier can verify the token. */
class KeySetUnavailable extends Error {
  override readonly name = 'KeySetUnavailable';
}

/** Faults of the token itself (unknown kid, unusable key), as opposed to fetch failures. */
const tokenFaults = [
  errors.JWKSNoMatchingKey,
  errors.JWKSMultipleMatchingKeys,
  errors.JOSENotSupported,
  errors.JWKInvalid,
  errors.JOSEAlgNotAllowed,
];

type KeyLookup = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

/**
 * Keys from the provider's JWKS. jose caches them for 10 minutes, and a token naming an
 * unknown `kid` refetches them (at most once per `AUTH_JWKS_COOLDOWN_SECONDS`): that is how
 * rotated keys are picked up. If the provider cannot be reached, keys fetched earlier keep
 * verifying the tokens they signed.
 */
function remoteKeys(jwksUrl: string, cooldownSeconds: number): KeyLookup {
  const remote = createRemoteJWKSet(new URL(jwksUrl), {
    timeoutDuration: 5000,
    cooldownDuration: cooldownSeconds * 1000,
    cacheMaxAge: 10 * 60_000,
  });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (tokenFaults.some((fault) => error instanceof fault)) throw error;
      const cached = remote.jwks();
      if (!cached) throw new KeySetUnavailable('no key set fetched yet', { cause: error });
      try {
        return await createLocalJWKSet(cached)(header, token);
      } catch (lookupError) {
        // The token may be signed by a key we could not fetch: we cannot tell, so no 401.
        if (lookupError instanceof errors.JWKSNoMatchingKey)
          throw new KeySetUnavailable('no cached key matches', { cause: error });
        throw lookupError;
      }
    }
  };
}

const bearer = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*) *$/i;

/** Undefined in demo mode: the caller is whoever the request body names. */
export function createCallerVerifier(
  source: IdentitySource,
  clock: Clock,
  log: { warn(details: object, message: string): void },
): VerifyCaller | undefined {
  if (source.kind === 'demo') return undefined;
  const key =
    source.kind === 'jwks'
      ? remoteKeys(source.jwksUrl, source.cooldownSeconds)
      : new TextEncoder().encode(source.secret);
  const algorithms = source.kind === 'jwks' ? asymmetricAlgorithms : ['HS256'];
  return async (authorization) => {
    const match = authorization === undefined ? null : bearer.exec(authorization);
    if (!match)
      throw new DomainError('AUTH_INVALID', 'an Authorization: Bearer <JWT> header is required');
    const options: JWTVerifyOptions = {
      algorithms,
      issuer: source.issuer,
      audience: source.audience,
      requiredClaims: ['sub', 'exp'],
      clockTolerance: clockToleranceSeconds,
      currentDate: clock(),
    };
    let subject: unknown;
    try {
      // One call per key kind, so each matches one of jwtVerify's overloads.
      const verified =
        key instanceof Uint8Array
          ? await jwtVerify(match[1]!, key, options)
          : await jwtVerify(match[1]!, key, options);
      subject = verified.payload.sub;
    } catch (error) {
      if (error instanceof KeySetUnavailable) {
        log.warn(
          { err: error.cause ?? error },
          `identity provider key set unavailable: ${error.message}`,
        );
        throw new DomainError(
          'AUTH_UNAVAILABLE',
          'the identity provider cannot be reached to verify this token; try again shortly',
          { retryAfterSeconds: 5 },
        );
      }
      if (error instanceof errors.JOSEError)
        throw new DomainError('AUTH_INVALID', `the bearer token was refused: ${refusal(error)}`);
      throw error;
    }
    if (typeof subject !== 'string' || !subjectFormat.test(subject))
      throw new DomainError(
        'AUTH_INVALID',
        'the token `sub` must be 1 to 255 printable characters',
      );
    return subject;
  };
}

/** A reason a client can act on, without echoing anything from the token. */
function refusal(error: Error): string {
  if (error instanceof errors.JWTExpired) return 'it has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'it is not valid yet';
    if (error.claim === 'iss' || error.claim === 'aud') return `wrong ${error.claim}`;
    return `claim ${error.claim} ${error.reason === 'missing' ? 'is missing' : 'is invalid'}`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'its algorithm is not accepted';
  if (error instanceof errors.JWKSNoMatchingKey) return 'no key matches it';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  return 'it is malformed';
}
