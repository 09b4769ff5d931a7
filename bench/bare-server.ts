// The baseline for the `queries` scenario: a bare Fastify route returning a constant body
// of the same size as the real answer, in its own process like the real server.
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const body = readFileSync(process.env.BODY_FILE!, 'utf8');
const app = Fastify();
app.get('/constant', async (_request, reply) => reply.type('application/json').send(body));
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
