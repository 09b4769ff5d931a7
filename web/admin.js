import { api, h, show, when } from './common.js';

// Operator pages: projections (rebuild with live progress), audit, queue, create concert.
const root = document.getElementById('app');
const status = document.getElementById('status');
const nav = document.getElementById('nav');
let stopPage = () => {};
const adminKey = () => sessionStorage.getItem('adminKey');
const admin = (method, path, body) =>
  api(method, path, { headers: { 'x-admin-key': adminKey() }, body });

function announce(message, kind = 'info') {
  status.textContent = message;
  status.className = `status ${kind}`;
  status.hidden = !message;
}
const guarded =
  (run) =>
  async (...args) => {
    try {
      announce('');
      await run(...args);
    } catch (error) {
      if (error.code === 'ADMIN_KEY_INVALID') {
        sessionStorage.removeItem('adminKey');
        keyView(error.message);
      } else announce(error.message, 'error');
    }
  };

/** Polls while the page is shown (operator pages may poll; the buyer's waiting room streams). */
function every(ms, run) {
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      await run().catch((error) => announce(error.message, 'error'));
      await new Promise((resolve) => setTimeout(resolve, ms));
    }
  };
  void loop();
  return () => (stopped = true);
}

function keyView(message) {
  stopPage();
  nav.hidden = true;
  if (message) announce(message, 'error');
  show(
    root,
    h('h2', {}, 'Admin key'),
    h(
      'form',
      {
        class: 'stack',
        onsubmit: guarded(async (event) => {
          event.preventDefault();
          sessionStorage.setItem('adminKey', String(new FormData(event.target).get('key')));
          await admin('GET', '/admin/projections');
          nav.hidden = false;
          projectionsView();
        }),
      },
      h('label', { for: 'admin-key' }, 'X-Admin-Key'),
      h('input', {
        id: 'admin-key',
        name: 'key',
        type: 'password',
        required: true,
        autocomplete: 'current-password',
      }),
      h('button', { type: 'submit' }, 'Enter'),
    ),
  );
}

function progressText(rebuild) {
  if (!rebuild) return '';
  const total = rebuild.total ?? '?';
  const rate = Math.round(rebuild.eventsPerSecond);
  const eta =
    rebuild.total && rate > 0 ? Math.ceil((rebuild.total - rebuild.applied) / rate) : undefined;
  if (rebuild.error) return `failed: ${rebuild.error}`;
  if (rebuild.phase === 'done')
    return `done: ${rebuild.applied} of ${total} events replayed and swapped in`;
  return `${rebuild.phase}: ${rebuild.applied} of ${total} events, ${rate} events/s${eta !== undefined ? `, about ${eta} s left` : ''}`;
}

function projectionsView() {
  stopPage();
  const body = h('tbody');
  show(
    root,
    h('h2', {}, 'Projections'),
    h(
      'div',
      { class: 'table-scroll' },
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Name', 'Checkpoint', 'Lag', 'Events applied', 'Status', 'Rebuild'].map((title) =>
              h('th', { scope: 'col' }, title),
            ),
            // The buttons' column: a header a screen reader can announce, not shown.
            h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Action')),
          ),
        ),
        body,
      ),
    ),
  );
  const rebuild = guarded(async (name) => {
    await admin('POST', `/admin/projections/${encodeURIComponent(name)}/rebuild`);
    announce(`Rebuild of ${name} started.`, 'success');
  });
  stopPage = every(1000, async () => {
    const rows = await admin('GET', '/admin/projections');
    body.replaceChildren(
      ...rows.map((row) =>
        h(
          'tr',
          { 'data-projection': row.name },
          h('th', { scope: 'row' }, row.name),
          h('td', {}, row.checkpoint),
          h('td', {}, row.lag),
          h('td', {}, row.eventsApplied),
          h('td', {}, row.status + (row.lastError ? ` (${row.lastError})` : '')),
          h(
            'td',
            { class: 'rebuild-progress' },
            row.rebuild
              ? h('progress', {
                  max: row.rebuild.total ?? 1,
                  value:
                    row.rebuild.phase === 'done' ? (row.rebuild.total ?? 1) : row.rebuild.applied,
                  'aria-label': `Rebuild of ${row.name}`,
                })
              : '',
            ' ',
            progressText(row.rebuild),
          ),
          h(
            'td',
            {},
            h(
              'button',
              {
                type: 'button',
                'aria-label': `Rebuild ${row.name}`,
                disabled: row.rebuild && row.rebuild.phase !== 'done' && !row.rebuild.error,
                onclick: () => rebuild(row.name),
              },
              'Rebuild',
            ),
          ),
        ),
      ),
    );
  });
}

function eventsTable(events) {
  return h(
    'div',
    { class: 'table-scroll' },
    h(
      'table',
      { class: 'events' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Position', 'Rev', 'Type', 'Time', 'Data'].map((title) =>
            h('th', { scope: 'col' }, title),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        events.map((event) =>
          h(
            'tr',
            {},
            h('td', {}, event.position),
            h('td', {}, event.revision),
            h('th', { scope: 'row' }, event.type + (event.stream ? ` (${event.stream})` : '')),
            h('td', {}, when(event.createdAt)),
            h('td', {}, h('pre', {}, JSON.stringify(event.data, null, 1))),
          ),
        ),
      ),
    ),
  );
}

function auditView() {
  stopPage();
  const result = h('div', { id: 'audit-result' });
  const lookUp = guarded(async (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    const stream = String(data.get('stream')).trim();
    const at = String(data.get('at') ?? '').trim();
    const events = await admin('GET', `/admin/streams/${encodeURIComponent(stream)}/events`);
    const state = await admin(
      'GET',
      `/admin/streams/${encodeURIComponent(stream)}/state${at ? `?at=${encodeURIComponent(new Date(at).toISOString())}` : ''}`,
    );
    result.replaceChildren(
      h('h3', {}, `${stream}: ${events.length} events`),
      eventsTable(events),
      h('h3', {}, `State ${at ? `at ${when(new Date(at).toISOString())}` : 'now'}`),
      h('pre', { id: 'stream-state' }, JSON.stringify(state, null, 2)),
    );
  });
  const trace = guarded(async (event) => {
    event.preventDefault();
    const userId = String(new FormData(event.target).get('userId')).trim();
    const found = await admin('GET', `/admin/users/${encodeURIComponent(userId)}/trace`);
    result.replaceChildren(
      h('h3', {}, `Everything about ${userId}: ${found.events.length} events`),
      eventsTable(found.events),
    );
  });
  show(
    root,
    h('h2', {}, 'Audit'),
    h(
      'form',
      { class: 'stack', onsubmit: lookUp },
      h(
        'label',
        { for: 'stream' },
        'Stream name (seat-…, wallet-…, token-…, payment-…, concert-…)',
      ),
      h('input', { id: 'stream', name: 'stream', required: true }),
      h('label', { for: 'at' }, 'State at (optional, your local time)'),
      h('input', { id: 'at', name: 'at', type: 'datetime-local', step: 1 }),
      h('button', { type: 'submit' }, 'Look up stream'),
    ),
    h(
      'form',
      { class: 'stack', onsubmit: trace },
      h('label', { for: 'trace-user' }, 'Trace a user across tokens, holds, charges and payments'),
      h('input', { id: 'trace-user', name: 'userId', required: true }),
      h('button', { type: 'submit' }, 'Trace user'),
    ),
    result,
  );
}

const queueLabels = {
  mode: 'Mode',
  waiting: 'Waiting',
  active: 'Active',
  prequeued: 'Pre-queued',
  admittedLastMinute: 'Admission rate (admitted in the last minute)',
  maxActive: 'Max active',
  admissionsPerMinute: 'Admissions per minute limit',
  opensAt: 'Opens at',
};

function queueShown(name, value) {
  if (value === null || value === undefined) return name === 'admissionsPerMinute' ? 'none' : '—';
  return name === 'opensAt' ? when(value) : String(value);
}

/** Pause, resume, passthrough, cap and rate: each a PATCH /admin/queue, shown at once. */
function queueControls(change) {
  const modeButton = (mode, text) =>
    h(
      'button',
      { type: 'button', onclick: () => change({ mode }, `Queue mode is now ${mode}.`) },
      text,
    );
  const limits = guarded(async (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    const cap = String(data.get('maxActive')).trim();
    const rate = String(data.get('admissionsPerMinute')).trim();
    const body = {};
    if (cap) body.maxActive = Number(cap);
    if (data.get('noRate')) body.admissionsPerMinute = null;
    else if (rate) body.admissionsPerMinute = Number(rate);
    if (!Object.keys(body).length) return announce('Enter a cap or a rate to change.', 'error');
    await change(body, 'Queue limits changed.');
  });
  return [
    h('h3', {}, 'Controls'),
    h(
      'div',
      { class: 'controls' },
      modeButton('paused', 'Pause admission'),
      modeButton('open', 'Resume (open)'),
      modeButton('passthrough', 'Passthrough'),
    ),
    h(
      'form',
      { class: 'stack', onsubmit: limits },
      h('label', { for: 'queue-cap' }, 'New max active'),
      h('input', { id: 'queue-cap', name: 'maxActive', type: 'number', min: 1 }),
      h('label', { for: 'queue-rate' }, 'New admissions per minute limit'),
      h('input', { id: 'queue-rate', name: 'admissionsPerMinute', type: 'number', min: 1 }),
      h(
        'label',
        { class: 'check' },
        h('input', { type: 'checkbox', name: 'noRate' }),
        ' No rate limit',
      ),
      h('button', { type: 'submit' }, 'Apply limits'),
    ),
  ];
}

function queueView() {
  stopPage();
  const cells = Object.fromEntries(
    Object.keys(queueLabels).map((name) => [name, h('dd', { id: `queue-${name}` }, '…')]),
  );
  const refresh = async () => {
    const queue = await admin('GET', '/admin/queue');
    for (const [name, cell] of Object.entries(cells)) {
      const text = queueShown(name, queue[name]);
      if (cell.textContent !== text) cell.textContent = text;
    }
  };
  const change = guarded(async (body, message) => {
    await admin('PATCH', '/admin/queue', body);
    announce(message, 'success');
    await refresh();
  });
  show(
    root,
    h('h2', {}, 'Queue'),
    h(
      'dl',
      { class: 'receipt' },
      Object.entries(cells).map(([name, cell]) => [h('dt', {}, queueLabels[name]), cell]),
    ),
    queueControls(change),
  );
  // Operator pages poll (the buyer's waiting room streams): once a second is live enough.
  stopPage = every(1000, refresh);
}

function dateFieldset(index) {
  return h(
    'fieldset',
    { class: 'stack concert-date' },
    h('legend', {}, `Date ${index + 1}`),
    h('label', { for: `time-${index}` }, 'Concert time'),
    h('input', {
      id: `time-${index}`,
      name: 'concertTime',
      type: 'datetime-local',
      required: true,
    }),
    h('label', { for: `opens-${index}` }, 'Reservations open at'),
    h('input', {
      id: `opens-${index}`,
      name: 'reservationStartTime',
      type: 'datetime-local',
      required: true,
    }),
    h('label', { for: `seats-${index}` }, 'Number of seats'),
    h('input', {
      id: `seats-${index}`,
      name: 'seats',
      type: 'number',
      min: 1,
      max: 1000,
      required: true,
      value: 20,
    }),
    h('label', { for: `price-${index}` }, 'Price per seat (₩)'),
    h('input', {
      id: `price-${index}`,
      name: 'price',
      type: 'number',
      min: 1,
      required: true,
      value: 50000,
    }),
  );
}

function concertView() {
  stopPage();
  const dates = h('div', {}, dateFieldset(0));
  const errors = h('ul', { class: 'field-error', id: 'concert-errors' });
  const submit = guarded(async (event) => {
    event.preventDefault();
    errors.replaceChildren();
    const form = event.target;
    const title = String(new FormData(form).get('title')).trim();
    const plan = [...dates.querySelectorAll('.concert-date')].map((fieldset, index) => {
      const value = (name) => fieldset.querySelector(`[name=${name}]`).value;
      const concertTime = new Date(value('concertTime'));
      const opens = new Date(value('reservationStartTime'));
      const problems = [];
      if (opens >= concertTime)
        problems.push(`Date ${index + 1}: reservations must open before the concert.`);
      if (concertTime <= new Date())
        problems.push(`Date ${index + 1}: the concert must be in the future.`);
      return {
        problems,
        date: {
          concertTime: concertTime.toISOString(),
          reservationStartTime: opens.toISOString(),
          seats: Array.from({ length: Number(value('seats')) }, (_, seat) => ({
            seatNumber: seat + 1,
            price: Number(value('price')),
          })),
        },
      };
    });
    const problems = plan.flatMap((entry) => entry.problems);
    if (!title) problems.unshift('A title is required.');
    if (problems.length) {
      errors.replaceChildren(...problems.map((problem) => h('li', {}, problem)));
      return;
    }
    const created = await admin('POST', '/admin/concerts', {
      title,
      dates: plan.map((entry) => entry.date),
    });
    announce(
      `Created "${title}" (${created.concertId}) with ${created.dates.length} date(s).`,
      'success',
    );
  });
  show(
    root,
    h('h2', {}, 'Create a concert'),
    h(
      'form',
      { class: 'stack', onsubmit: submit, novalidate: true },
      h('label', { for: 'title' }, 'Title'),
      h('input', { id: 'title', name: 'title', required: true, maxlength: 200 }),
      dates,
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          onclick: () => dates.append(dateFieldset(dates.children.length)),
        },
        'Add another date',
      ),
      errors,
      h('button', { type: 'submit' }, 'Create concert'),
    ),
  );
}

const pages = {
  projections: projectionsView,
  audit: auditView,
  queue: queueView,
  concert: concertView,
  logout: () => {
    sessionStorage.removeItem('adminKey');
    keyView();
  },
};
nav.addEventListener('click', (event) => {
  const page = event.target.closest('button')?.dataset.page;
  if (page) {
    announce('');
    pages[page]();
  }
});
if (adminKey()) {
  nav.hidden = false;
  projectionsView();
} else keyView();
