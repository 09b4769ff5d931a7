// The floor under a move's pass: what one small socket write costs on this machine with
// nothing of ours around it (no HTTP, no framework), at the same number of connections.
// A server process holds `count` plain TCP connections from client processes and writes
// one SSE-sized chunk to each, pass after pass; the figure is the CPU (user + system) per
// write. The waiting room's own cost per stream is read against it.
import { fork } from 'node:child_process';
import net from 'node:net';

const chunkOf = (i: number) =>
  `6a\r\nid: w${i}\nevent: token\ndata: {"position":${i},"estimatedWaitSeconds":42,"token":"0123456789abcdef"}\n\n\r\n`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const passes = 5;

export interface WriteFloor {
  readonly connections: number;
  /** Median over the passes: CPU per write, and wall time per write. */
  readonly cpuMicrosPerWrite: number;
  readonly wallMicrosPerWrite: number;
  readonly systemShare: number;
}

function child(args: string[]) {
  return fork(new URL(import.meta.url).pathname, args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** Runs the server and its clients in their own processes (each may open 20,000 files). */
export async function measureWriteFloor(count: number, perClient = 6500): Promise<WriteFloor> {
  const server = child(['server', String(count)]);
  const port = await new Promise<number>((resolve) =>
    server.once('message', (message) => resolve((message as { port: number }).port)),
  );
  const clients = [];
  for (let left = count; left > 0; left -= perClient)
    clients.push(child(['client', String(port), String(Math.min(left, perClient))]));
  try {
    return await new Promise<WriteFloor>((resolve, reject) => {
      server.once('message', (message) => resolve(message as WriteFloor));
      server.once('exit', (code) => reject(new Error(`write-floor server exited ${code}`)));
    });
  } finally {
    for (const client of clients) client.kill();
    server.kill();
  }
}

async function serve(count: number): Promise<void> {
  const sockets: net.Socket[] = [];
  let all: () => void;
  const connected = new Promise<void>((resolve) => (all = resolve));
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    if (sockets.push(socket) === count) all();
  });
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () =>
    process.send!({ port: (server.address() as net.AddressInfo).port }),
  );
  await connected;
  await sleep(1000);
  const cpu: number[] = [];
  const wall: number[] = [];
  let system = 0;
  let total = 0;
  for (let pass = 0; pass < passes; pass++) {
    const usage = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < sockets.length; i++) sockets[i]!.write(chunkOf(i));
    wall.push(((performance.now() - started) * 1000) / count);
    const used = process.cpuUsage(usage);
    cpu.push((used.user + used.system) / count);
    system += used.system;
    total += used.user + used.system;
    await sleep(1000);
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  process.send!({
    connections: count,
    cpuMicrosPerWrite: median(cpu),
    wallMicrosPerWrite: median(wall),
    systemShare: system / total,
  } satisfies WriteFloor);
  await sleep(60_000);
}

async function connect(port: number, count: number): Promise<void> {
  // A few hundred at a time, so that the server's accept backlog never overflows.
  for (let opened = 0; opened < count; ) {
    const batch = Math.min(250, count - opened);
    await Promise.all(
      Array.from(
        { length: batch },
        () =>
          new Promise<void>((resolve) => {
            const socket = net.connect(port, '127.0.0.1', () => resolve());
            socket.on('data', () => undefined);
            socket.on('error', () => resolve());
          }),
      ),
    );
    opened += batch;
  }
  await sleep(600_000);
}

const [role, a, b] = process.argv.slice(2);
if (role === 'server') void serve(Number(a));
else if (role === 'client') void connect(Number(a), Number(b));
