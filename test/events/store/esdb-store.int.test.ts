import { EventStoreDbStore } from '../../../src/events/store/esdb/store.js';
import { eventStoreContract } from './contract.js';

const url = process.env.EVENTSTORE_URL;

// No EventStoreDB server runs on the CI machine: this suite runs when EVENTSTORE_URL points at one.
(url ? describe : describe.skip)('EventStoreDB adapter (runs only with EVENTSTORE_URL set)', () => {
  eventStoreContract(
    async (options = {}) =>
      EventStoreDbStore.connect(url!, {
        ...(options.readPageSize ? { pageSize: Math.max(2, options.readPageSize) } : {}),
      }),
    async () => undefined,
  );
});
