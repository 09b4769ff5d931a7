import { api, follow, h, show, when, won } from './common.js';

// One buyer's walk: join -> waiting room -> concerts -> dates -> seat map -> hold -> pay -> receipt.
const root = document.getElementById('app');
const status = document.getElementById('status');
let stopFollowing = () => {};
const session = {
  get token() {
    return sessionStorage.getItem('queueToken');
  },
  set token(value) {
    if (value) sessionStorage.setItem('queueToken', value);
    else sessionStorage.removeItem('queueToken');
  },
};
const auth = () => ({ 'x-queue-token': session.token });

function announce(message, kind = 'info') {
  status.textContent = message;
  status.className = `status ${kind}`;
  status.hidden = !message;
}
const fail = (error) => announce(error.message, 'error');

function expired(reason) {
  stopFollowing();
  session.token = null;
  show(
    root,
    h('h2', {}, 'Your time has ended'),
    h('p', {}, reason ?? 'Your queue token expired. Join the queue again to continue.'),
    h('button', { type: 'button', onclick: () => joinView() }, 'Join again'),
  );
}

function guarded(run) {
  return async (...args) => {
    try {
      announce('');
      await run(...args);
    } catch (error) {
      if (error.code === 'TOKEN_EXPIRED' || error.code === 'TOKEN_INVALID')
        return expired(error.message);
      fail(error);
    }
  };
}

function joinView() {
  stopFollowing();
  const submit = guarded(async (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    const bearer = String(data.get('bearer') ?? '').trim();
    const userId = String(data.get('userId') ?? '').trim();
    const token = await api('POST', '/queue/tokens', {
      body: userId ? { userId } : {},
      headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
    });
    session.token = token.token;
    sessionStorage.setItem('userId', token.userId);
    waitingView(token);
  });
  show(
    root,
    h('h2', {}, 'Join the queue'),
    h('p', {}, 'Enter a user name to take your place in line.'),
    h(
      'form',
      { onsubmit: submit, class: 'stack' },
      h('label', { for: 'user-id' }, 'User name'),
      h('input', {
        id: 'user-id',
        name: 'userId',
        autocomplete: 'username',
        pattern: '[A-Za-z0-9_.\\-]{1,64}',
        'aria-describedby': 'user-id-help',
      }),
      h('small', { id: 'user-id-help' }, 'Letters, digits, dot, dash or underscore.'),
      h(
        'details',
        {},
        h('summary', {}, 'I have a sign-in token'),
        h('label', { for: 'bearer' }, 'Bearer token from your identity provider'),
        h('textarea', { id: 'bearer', name: 'bearer', rows: 3 }),
      ),
      h('button', { type: 'submit' }, 'Join the queue'),
    ),
  );
}

function waitingView(initial) {
  stopFollowing();
  if (initial.status === 'pass') return concertsView();
  if (initial.status === 'expired') return expired();
  let first = initial.position;
  const position = h('strong', { id: 'position' }, '…');
  const estimate = h('span', { id: 'estimate' }, '…');
  const bar = h('progress', {
    id: 'progress',
    max: 100,
    value: 0,
    'aria-label': 'Progress through the line',
  });
  const render = (token) => {
    if (token.prequeue) {
      position.textContent = 'not drawn yet';
      estimate.textContent = `the line opens ${when(token.opensAt)}`;
      return;
    }
    first = Math.max(first ?? token.position, token.position);
    position.textContent = String(token.position);
    estimate.textContent =
      token.estimatedWaitSeconds === null || token.estimatedWaitSeconds === undefined
        ? 'paused for now'
        : `about ${formatWait(token.estimatedWaitSeconds)}`;
    bar.value = first > 0 ? Math.round(((first - token.position + 1) / (first + 1)) * 100) : 100;
  };
  render(initial);
  show(
    root,
    h('h2', {}, 'Waiting room'),
    h('p', {}, 'Keep this page open; it moves on by itself when it is your turn.'),
    h(
      'div',
      { class: 'waiting', role: 'status', 'aria-live': 'polite' },
      h('p', {}, 'Your place in line: ', position),
      h('p', {}, 'Estimated wait: ', estimate),
      bar,
    ),
  );
  stopFollowing = follow(() => '/queue/tokens/current/events', {
    token: session.token,
    on: {
      token: (token) => (token.status === 'pass' ? concertsView() : render(token)),
      expired: () => expired('Your queue token expired while waiting. Please join again.'),
    },
    onError: () => announce('Live updates were interrupted; reconnecting…', 'info'),
  });
}

function formatWait(seconds) {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

const concertsView = guarded(async () => {
  stopFollowing();
  const concerts = await api('GET', '/concerts');
  show(
    root,
    h('h2', {}, 'Concerts'),
    concerts.length === 0
      ? h('p', {}, 'No concerts are scheduled.')
      : h(
          'ul',
          { class: 'choices' },
          concerts.map((concert) =>
            h(
              'li',
              {},
              h('button', { type: 'button', onclick: () => datesView(concert) }, concert.title),
            ),
          ),
        ),
  );
});

const datesView = guarded(async (concert) => {
  const dates = await api('GET', `/concerts/${encodeURIComponent(concert.concertId)}/dates`, {
    headers: auth(),
  });
  show(
    root,
    h('h2', {}, concert.title),
    dates.length === 0
      ? h('p', {}, 'No dates with free seats remain.')
      : h(
          'ul',
          { class: 'choices' },
          dates.map((date) =>
            h(
              'li',
              {},
              h(
                'button',
                { type: 'button', onclick: () => seatMapView(concert, date) },
                `${when(date.concertTime)} — ${date.availableSeats} seats free`,
              ),
            ),
          ),
        ),
    h(
      'button',
      { type: 'button', class: 'secondary', onclick: () => concertsView() },
      'Back to concerts',
    ),
  );
});

const statusWords = { empty: 'free', held: 'held', sold: 'sold' };

const seatMapView = guarded(async (concert, date) => {
  stopFollowing();
  const map = await api(
    'GET',
    `/concert-times/${encodeURIComponent(date.concertTimeId)}/seat-map`,
    { headers: auth() },
  );
  const buttons = new Map();
  const paint = (button, seat) => {
    button.dataset.status = seat.status;
    button.disabled = seat.status !== 'empty';
    button.setAttribute(
      'aria-label',
      `Seat ${seat.seatNumber}, ${won(seat.price)}, ${statusWords[seat.status]}`,
    );
    button.querySelector('.seat-status').textContent = statusWords[seat.status];
  };
  const grid = h(
    'div',
    { class: 'seat-grid', role: 'group', 'aria-label': 'Seats' },
    map.seats.map((seat) => {
      const button = h(
        'button',
        {
          type: 'button',
          class: 'seat',
          'data-seat-number': seat.seatNumber,
          onclick: () => holdSeat(concert, date, seat),
        },
        // Spaces between the parts, so the visible text ("3 ₩10,000 free") reads as words
        // inside the button's name (WCAG 2.5.3, label in name).
        h('span', { class: 'seat-number' }, seat.seatNumber),
        ' ',
        h('span', { class: 'seat-price' }, won(seat.price)),
        ' ',
        h('span', { class: 'seat-status' }, ''),
      );
      paint(button, seat);
      buttons.set(seat.seatId, { button, seat });
      return button;
    }),
  );
  show(
    root,
    h('h2', {}, `${concert.title}, ${when(date.concertTime)}`),
    h('p', {}, 'Pick a free seat. The map updates live as others hold or buy seats.'),
    h(
      'ul',
      { class: 'legend', 'aria-label': 'Legend' },
      ['empty', 'held', 'sold'].map((state) =>
        h('li', { 'data-status': state }, statusWords[state]),
      ),
    ),
    grid,
    h(
      'button',
      { type: 'button', class: 'secondary', onclick: () => datesView(concert) },
      'Back to dates',
    ),
  );
  stopFollowing = follow(
    (lastEventId) =>
      `/concert-times/${encodeURIComponent(date.concertTimeId)}/seat-map/events?after=${encodeURIComponent(lastEventId ?? map.asOf)}`,
    {
      token: session.token,
      on: {
        seat: (change) => {
          const entry = buttons.get(change.seatId);
          if (!entry) return;
          entry.seat = { ...entry.seat, status: change.status };
          paint(entry.button, entry.seat);
        },
        expired: () => expired(),
      },
      onError: () => announce('Live seat updates were interrupted; reconnecting…', 'info'),
    },
  );
});

const holdSeat = guarded(async (concert, date, seat) => {
  const reservation = await api('POST', '/reservations', {
    headers: auth(),
    body: { concertTimeId: date.concertTimeId, seatId: seat.seatId },
  });
  stopFollowing();
  await holdView(concert, date, seat, reservation);
});

async function holdView(concert, date, seat, reservation) {
  const wallet = await api('GET', '/wallet', { headers: auth() });
  const balance = h('strong', { id: 'balance' }, won(wallet.balance));
  const countdown = h('strong', { id: 'countdown' }, '');
  let chargeKey = crypto.randomUUID();
  const tick = () => {
    const left = Math.max(
      0,
      Math.round((Date.parse(reservation.holdExpiresAt) - Date.now()) / 1000),
    );
    countdown.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
    if (left === 0) {
      clearInterval(timer);
      payButton.disabled = true;
      announce(
        'Your hold ran out. The seat is free for others again; please pick a seat.',
        'error',
      );
    }
  };
  const topUp = guarded(async (event) => {
    event.preventDefault();
    const amount = Number(new FormData(event.target).get('amount'));
    // The same key for every click of this one top-up: a double click charges once.
    const result = await api('POST', '/wallet/charges', {
      headers: { ...auth(), 'idempotency-key': chargeKey },
      body: { amount },
    });
    chargeKey = crypto.randomUUID();
    balance.textContent = won(result.balance);
    announce(`Added ${won(amount)} to your wallet.`, 'success');
  });
  const pay = guarded(async () => {
    payButton.disabled = true;
    try {
      const payment = await api('POST', '/payments', {
        headers: { ...auth(), 'idempotency-key': reservation.reservationId },
        body: { reservationId: reservation.reservationId },
      });
      clearInterval(timer);
      session.token = null;
      receiptView(concert, date, seat, payment);
    } finally {
      payButton.disabled = false;
    }
  });
  const payButton = h(
    'button',
    { type: 'button', id: 'pay', onclick: pay },
    `Pay ${won(reservation.price)}`,
  );
  show(
    root,
    h('h2', {}, `Seat ${seat.seatNumber} is held for you`),
    h('p', { role: 'timer', 'aria-live': 'off' }, 'Time left to pay: ', countdown),
    h('p', {}, `${concert.title}, ${when(date.concertTime)} — price ${won(reservation.price)}`),
    h('p', {}, 'Wallet balance: ', balance),
    h(
      'form',
      { class: 'inline', onsubmit: topUp },
      h('label', { for: 'amount' }, 'Top up amount (₩)'),
      h('input', {
        id: 'amount',
        name: 'amount',
        type: 'number',
        min: 1,
        step: 1,
        required: true,
        value: reservation.price,
        inputmode: 'numeric',
      }),
      h('button', { type: 'submit' }, 'Top up'),
    ),
    payButton,
  );
  const timer = setInterval(tick, 1000);
  tick();
}

function receiptView(concert, date, seat, payment) {
  show(
    root,
    h('h2', {}, 'Receipt'),
    h('p', { class: 'success' }, 'Payment complete. Enjoy the concert!'),
    h(
      'dl',
      { class: 'receipt' },
      h('dt', {}, 'Concert'),
      h('dd', {}, concert.title),
      h('dt', {}, 'Date'),
      h('dd', {}, when(date.concertTime)),
      h('dt', {}, 'Seat'),
      h('dd', {}, String(seat.seatNumber)),
      h('dt', {}, 'Paid'),
      h('dd', { id: 'paid-amount' }, won(payment.amount)),
      h('dt', {}, 'Wallet balance'),
      h('dd', {}, won(payment.balance)),
      h('dt', {}, 'Payment id'),
      h('dd', { id: 'payment-id' }, payment.paymentId),
    ),
    h('button', { type: 'button', onclick: () => joinView() }, 'Buy another ticket'),
  );
}

async function resume() {
  if (!session.token) return joinView();
  try {
    waitingView(await api('GET', '/queue/tokens/current', { headers: auth() }));
  } catch {
    session.token = null;
    joinView();
  }
}
void resume();
