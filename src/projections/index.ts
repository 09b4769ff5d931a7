import { availableDatesProjection } from './available-dates.js';
import { availableSeatsProjection } from './available-seats.js';
import type { Projection } from './projection.js';
import { paymentsProjection } from './payments.js';
import { seatMapProjection } from './seat-map.js';
import { reservationsProjection } from './reservations.js';
import { tokensProjection } from './tokens.js';
import { walletsProjection } from './wallets.js';

export const projections: readonly Projection[] = [
  tokensProjection,
  availableDatesProjection,
  availableSeatsProjection,
  reservationsProjection,
  walletsProjection,
  paymentsProjection,
  seatMapProjection,
];
