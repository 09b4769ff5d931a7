/** Time enters the domain only through a clock, so tests can move it. */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

export const addSeconds = (iso: string, seconds: number) =>
  new Date(Date.parse(iso) + seconds * 1000).toISOString();

export const isAtOrAfter = (a: string, b: string) => Date.parse(a) >= Date.parse(b);
