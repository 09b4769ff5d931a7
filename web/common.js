// Shared by the buyer and operator pages: REST calls, human error sentences, event streams.
// Plain ES modules served as same-origin files, so a strict CSP (no inline script) allows them.

const sentences = {
  TOKEN_INVALID: 'Your place in line is not known here. Please join the queue again.',
  TOKEN_NOT_ACTIVE: 'You are still waiting in line; this opens once you are admitted.',
  TOKEN_EXPIRED: 'Your shopping time has ended. Join the queue again to continue.',
  SEAT_NOT_AVAILABLE: 'Sorry, someone else took that seat a moment ago. Please pick another one.',
  RESERVATION_NOT_OPEN: 'Reservations for this date are not open yet.',
  INSUFFICIENT_BALANCE: 'Your wallet does not hold enough money for this seat. Top it up first.',
  SEAT_NOT_HELD_BY_USER: 'This seat is no longer held for you.',
  HOLD_EXPIRED: 'Your hold on this seat ran out before the payment. Please pick a seat again.',
  ALREADY_PAID: 'This seat is already paid for.',
  IDEMPOTENCY_KEY_REUSED: 'That request was already sent with different details. Please try again.',
  NOT_FOUND: 'That could not be found. It may have been removed.',
  RATE_LIMITED: 'Too many attempts in a short time. Please wait a moment and try again.',
  ADMIN_KEY_INVALID: 'The admin key was not accepted.',
  AUTH_INVALID: 'Your sign-in token was not accepted. Please paste a fresh one.',
  USER_MISMATCH: 'The user name does not match your sign-in token.',
  AUTH_UNAVAILABLE: 'Sign-in is unavailable right now. Please try again shortly.',
  SERVICE_UNAVAILABLE: 'The service is busy or briefly unavailable. Please try again shortly.',
  INTERNAL_ERROR: 'Something went wrong on our side. Please try again.',
  CONCURRENCY_CONFLICT: 'Someone else is doing the same thing right now. Please try again.',
};

/** An error from the API, carrying its stable code and a sentence a person can read. */
export class ApiError extends Error {
  constructor(problem, status) {
    super(humanMessage(problem, status));
    this.code = problem?.code ?? 'INTERNAL_ERROR';
    this.status = status;
    this.problem = problem;
  }
}

export function humanMessage(problem, status) {
  const code = problem?.code;
  if (code === 'VALIDATION_FAILED') {
    const fields = (problem.errors ?? []).map((error) => `${error.field} ${error.message}`);
    return `Please check your input${fields.length ? `: ${fields.join('; ')}` : '.'}`;
  }
  if (code === 'TOKEN_NOT_ACTIVE' && typeof problem.position === 'number')
    return `You are still waiting in line (position ${problem.position}).`;
  if (code && sentences[code]) return sentences[code];
  if (status === 0) return 'The service cannot be reached. Check your connection and try again.';
  return 'Something went wrong. Please try again.';
}

/** Calls the REST API; resolves the JSON body or throws an ApiError with a human sentence. */
export async function api(method, path, { body, headers = {} } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch {
    throw new ApiError(undefined, 0);
  }
  const text = await response.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) throw new ApiError(parsed, response.status);
  return parsed;
}

/**
 * Follows a server-sent event stream with EventSource. EventSource cannot send headers, so
 * each (re)connection first trades the queue token for a short-lived stream ticket: the
 * token itself never goes into a URL. `path(lastEventId)` builds the stream's path, so a
 * reopened stream resumes after the last event seen. `on` maps event names to handlers;
 * returns a function that stops following.
 */
export function follow(path, { token, on, onError }) {
  let stopped = false;
  let source;
  let lastEventId;
  let retry;
  const open = async () => {
    const ticket = await streamTicket(token);
    if (stopped) return;
    if (ticket === undefined) return reopenSoon();
    const url = path(lastEventId);
    source = new EventSource(
      `${url}${url.includes('?') ? '&' : '?'}ticket=${encodeURIComponent(ticket)}`,
    );
    for (const event of Object.keys(on)) {
      source.addEventListener(event, (message) => {
        if (message.lastEventId) lastEventId = message.lastEventId;
        if (event === 'expired') stop();
        on[event](JSON.parse(message.data), message.lastEventId);
      });
    }
    source.onerror = () => {
      onError?.();
      // EventSource retries by itself, but not once the server refused (an old ticket).
      if (source.readyState === EventSource.CLOSED) reopenSoon();
    };
  };
  const reopenSoon = () => {
    if (!stopped) retry = setTimeout(() => void open(), 2000);
  };
  const stop = () => {
    stopped = true;
    clearTimeout(retry);
    source?.close();
  };
  void open();
  return stop;
}

async function streamTicket(token) {
  try {
    const response = await fetch('/queue/tokens/current/stream-ticket', {
      method: 'POST',
      headers: { 'x-queue-token': token },
    });
    return response.ok ? (await response.json()).ticket : undefined;
  } catch {
    return undefined;
  }
}

/** Builds an element: h('button', { class: 'seat', onclick }, 'text', child). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false || value === null) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export const won = (amount) => `₩${Number(amount).toLocaleString('en-US')}`;
export const when = (iso) =>
  new Date(iso).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });

/** Replaces the main region's content and moves focus to its heading (for screen readers). */
export function show(root, ...children) {
  root.replaceChildren(...children.flat(Infinity));
  const heading = root.querySelector('h2');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
}
